// The core of the projections of a decoding step (rows-linear.wgsl, rows-qkv-rope.wgsl and
// rows-swiglu-up.wgsl extend it): for a few input rows x[ROWS, K] (one position of each sequence)
// and the COLS weight rows (output columns) a workgroup owns, the dot products
//   dot(r, c) = Σ_k x̂[r, k] · W_c[k],   x̂ = RMSNorm(x) (weight norm_weight) when NORM, else x.
// At a few rows a product is bound by reading W once, so each output column gets LANES = WG / COLS
// threads that walk k contiguously (coalesced reads of W and x, each W element read once per tile
// of RT rows), each keeping RT row sums in registers. The lane sums are added in a fixed tree in
// workgroup memory: results do not depend on timing, and no subgroup operations are needed.
// The norm needs no pass of its own: RMSNorm scales a row by 1/rms, so Σ x² is summed beside the
// dot products (by the first column's lanes, whose column always exists) and the finished dot
// product scaled; the norm's weight multiplies W's elements (a per-k factor, like x's).
// The extending module declares x: array<f32> [ROWS, K], norm_weight: array<f32> [K] (any
// placeholder without NORM) and fn weight(column, k) -> f32, W_column[k]; its entry point runs
// gemv_tile for each tile of rows, then reads tile_dot. The weights' element type W_T is f32, or
// f16 (half the bytes a decoding step reads; widened to f32 as read, sums stay f32).
// Constants: K (input width), ROWS (rows), COLS (columns per workgroup: 2, 4 or 8), NORM (bool),
// EPS (f32, the norm's epsilon).

const WG = 256u;
const LANES = WG / COLS;
// Rows per tile: the registers one thread keeps per row sum.
const RT = min(ROWS, 8u);

var<workgroup> dot_part: array<f32, RT * WG>; // [row of the tile][column · LANES + lane]
var<workgroup> sq_part: array<f32, RT * LANES>; // [row of the tile][lane], the first column's

// The dot products of rows r0..r0+RT−1 with the thread's column (live: whether it exists), summed
// over the workgroup; afterwards every thread may read them through tile_dot. Call from uniform
// control flow (it has barriers), once per tile, the tiles in order.
fn gemv_tile(t: u32, r0: u32, column: u32, live: bool) {
  let lane = t % LANES;
  var acc: array<f32, RT>;
  var sq: array<f32, RT>;
  if (live) {
    for (var k = lane; k < K; k += LANES) {
      var w = weight(column, k);
      if (NORM) { w *= norm_weight[k]; }
      for (var i = 0u; i < RT; i++) {
        if (r0 + i < ROWS) {
          let xv = x[(r0 + i) * K + k];
          acc[i] = fma(xv, w, acc[i]);
          sq[i] = fma(xv, xv, sq[i]);
        }
      }
    }
  }
  workgroupBarrier(); // every thread is done reading the previous tile's sums
  for (var i = 0u; i < RT; i++) {
    dot_part[i * WG + t] = acc[i];
    if (NORM && t < LANES) { sq_part[i * LANES + t] = sq[i]; }
  }
  for (var s = LANES / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (lane < s) {
      for (var i = 0u; i < RT; i++) { dot_part[i * WG + t] += dot_part[i * WG + t + s]; }
      if (NORM && t < s) {
        for (var i = 0u; i < RT; i++) { sq_part[i * LANES + t] += sq_part[i * LANES + t + s]; }
      }
    }
  }
  workgroupBarrier();
}

// The finished dot product of row r0 + i of the tile with the workgroup's column c.
fn tile_dot(i: u32, c: u32) -> f32 {
  let d = dot_part[i * WG + c * LANES];
  if (NORM) { return d * inverseSqrt(sq_part[i * LANES] / f32(K) + EPS); }
  return d;
}
