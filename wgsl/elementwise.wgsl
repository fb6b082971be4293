// Small helpers shared by the layer kernels: both entries read `src` and update `dst`.
//   add_into:  dst[i] += src[i]                         (gradient sums, x += y)
//   sum_rows:  dst[offset + c] (+)= Σ_p src[p·cols + c]  (second stage of every deterministic
//              reduction: kernels write per-workgroup partial sums [P, cols], this adds them up
//              in a fixed order, so results never depend on scheduling as float atomics would)
// Constants: ACCUMULATE (sum_rows adds into dst instead of overwriting), COLS (columns per
// sum_rows workgroup: 8 for wide partials (a 32-byte segment of a row per slice), 1 for a few
// scalar sums).

struct Params { n: u32, cols: u32, offset: u32, row: u32 }

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(256)
fn add_into(@builtin(global_invocation_id) g: vec3u) {
  let i = g.x + g.y * p.row;
  if (i < p.n) { dst[i] += src[i]; }
}

// 256 threads = COLS columns × SLICES slices; a slice sums every SLICES-th partial row of its
// column (coalesced across the COLS threads of a row), four rows per step so that four loads
// are in flight, then the slices are combined by a tree.
const SLICES = 256u / COLS;
var<workgroup> slice_sum: array<f32, 256>;

@compute @workgroup_size(256)
fn sum_rows(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) t: u32) {
  let col = wid.x * COLS + t % COLS;
  let slice = t / COLS;
  var acc = vec4f(0.0);
  if (col < p.cols) {
    var r = slice;
    for (; r + 3u * SLICES < p.n; r += 4u * SLICES) {
      acc += vec4f(src[r * p.cols + col], src[(r + SLICES) * p.cols + col],
                   src[(r + 2u * SLICES) * p.cols + col], src[(r + 3u * SLICES) * p.cols + col]);
    }
    for (; r < p.n; r += SLICES) { acc.x += src[r * p.cols + col]; }
  }
  slice_sum[t] = (acc.x + acc.y) + (acc.z + acc.w);
  workgroupBarrier();
  for (var s = SLICES / 2u; s > 0u; s >>= 1u) {
    if (slice < s) { slice_sum[t] += slice_sum[t + s * COLS]; }
    workgroupBarrier();
  }
  if (slice == 0u && col < p.cols) {
    let total = slice_sum[t];
    if (ACCUMULATE) { dst[p.offset + col] += total; } else { dst[p.offset + col] = total; }
  }
}
