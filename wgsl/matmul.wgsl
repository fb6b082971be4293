// Row-major f32 matrix product, tiled in workgroup memory with a register block per thread:
//   C[M, N] = op(A) · op(B)  (+ bias[col])  (+ C when ACCUMULATE)
//   op(A) [M, K]: A stored [M, K], or with TRANS_A the transpose of A stored [K, M];
//   op(B) [K, N]: B stored [K, N], or with TRANS_B the transpose of B stored [N, K].
// Linear layers use all three forms: y = x·Wᵀ (TRANS_B), dx = dy·W, dW = dyᵀ·x (TRANS_A).
//
// Grid: x = column tiles (BN wide), y = row tiles (BM tall), z = item · splits + split. Batch
// items advance A, B and C by their strides. With splits > 1 each z sums only its own k_chunk
// of K and writes a plain partial product to C + z·stride_c (a scratch buffer); reduce_splits
// then adds the partials in a fixed order, so split-K results are deterministic.
// colsum_partials (+ reduce_splits) gives the column sums of a matrix: a Linear bias gradient.
//
// Constants: TRANS_A, TRANS_B, BIAS, ACCUMULATE (bools); BM, BN (tile, multiples of 8), BK (k
// step, a multiple of 8). Each thread owns an 8×8 block of C: (BM/8)·(BN/8) threads.
// Types: A_T, B_T, C_T, the element types of a, b and c (f32 or f16). Products always sum in
// f32 (f16 inputs are widened as they enter the tiles); bias is f32.

//#include "matmul-common.wgsl"

// a and b are bound as their scalars.
alias A_S = A_T;
alias B_S = B_T;

const THREADS_M = BM / 8u;
const THREADS_N = BN / 8u;
const THREADS = THREADS_M * THREADS_N;
const A_LOADS = BM * BK / THREADS;
const B_LOADS = BN * BK / THREADS;

// k-major tiles a_tile[k][m], b_tile[k][n], rows padded by one vec4 so that a warp's transposing
// stores (4 rows × 8 k) fall in 32 distinct banks. Indexing by [k][vec4] with the thread's vec4
// column fixed keeps the inner loop's addresses "thread base + constant".
var<workgroup> a_tile: array<array<vec4f, BM / 4u + 1u>, BK>;
var<workgroup> b_tile: array<array<vec4f, BN / 4u + 1u>, BK>;

// Element `e` (0 .. BM·BK) of the A tile as (m, k): consecutive threads take consecutive
// addresses of A's stored layout (runs of 8 k when k is contiguous), so global loads coalesce.
fn a_tile_pos(e: u32) -> vec2u {
  if (TRANS_A) { return vec2u(e % BM, e / BM); }
  return vec2u((e / 8u) % BM, (e / (8u * BM)) * 8u + e % 8u);
}

fn b_tile_pos(e: u32) -> vec2u {
  if (TRANS_B) { return vec2u((e / 8u) % BN, (e / (8u * BN)) * 8u + e % 8u); }
  return vec2u(e % BN, e / BN);
}

fn load_a(base: u32, m: u32, k: u32, k_end: u32) -> f32 {
  let at = select(m * p.K + k, k * p.M + m, TRANS_A);
  return select(0.0, f32(a[base + at]), m < p.M && k < k_end);
}

fn load_b(base: u32, n: u32, k: u32, k_end: u32) -> f32 {
  let at = select(k * p.N + n, n * p.K + k, TRANS_B);
  return select(0.0, f32(b[base + at]), n < p.N && k < k_end);
}

@compute @workgroup_size(THREADS)
fn matmul(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) t: u32) {
  let blk = block_of(wid);
  let tm = t / THREADS_N;
  let tn = t % THREADS_N;

  var acc: array<vec4f, 16>;  // acc[2·i + j]: row i of the block, column run j
  // This thread's tile elements: where each sits in the tiles, and its address in A or B at
  // k = k_begin (one k further is +a_k / +b_k). A workgroup whose whole tile lies inside C loads
  // full k steps without bounds checks (a uniform branch). Each step stores one BK slice straight
  // from global memory into the tiles, then multiplies them: prefetching the next slice into
  // registers (with double-buffered tiles) measured slower on the H100, as its registers cost
  // occupancy (docs/BENCHMARKS.md).
  let a_k = select(1u, p.M, TRANS_A);
  let b_k = select(p.N, 1u, TRANS_B);
  var a_at: array<u32, A_LOADS>;
  var b_at: array<u32, B_LOADS>;
  for (var i = 0u; i < A_LOADS; i++) {
    let q = a_tile_pos(i * THREADS + t);
    a_at[i] = blk.base_a + select((blk.m0 + q.x) * p.K, blk.m0 + q.x, TRANS_A) + (blk.k_begin + q.y) * a_k;
  }
  for (var i = 0u; i < B_LOADS; i++) {
    let q = b_tile_pos(i * THREADS + t);
    b_at[i] = blk.base_b + select(blk.n0 + q.x, (blk.n0 + q.x) * p.K, TRANS_B) + (blk.k_begin + q.y) * b_k;
  }
  let interior = blk.m0 + BM <= p.M && blk.n0 + BN <= p.N;
  let tiles = (blk.k_end - blk.k_begin + BK - 1u) / BK;
  for (var tile = 0u; tile < tiles; tile++) {
    let k0 = blk.k_begin + tile * BK;
    workgroupBarrier();
    if (interior && k0 + BK <= blk.k_end) {
      for (var i = 0u; i < A_LOADS; i++) {
        let q = a_tile_pos(i * THREADS + t);
        a_tile[q.y][q.x / 4u][q.x % 4u] = f32(a[a_at[i] + tile * BK * a_k]);
      }
      for (var i = 0u; i < B_LOADS; i++) {
        let q = b_tile_pos(i * THREADS + t);
        b_tile[q.y][q.x / 4u][q.x % 4u] = f32(b[b_at[i] + tile * BK * b_k]);
      }
    } else {
      for (var i = 0u; i < A_LOADS; i++) {
        let q = a_tile_pos(i * THREADS + t);
        a_tile[q.y][q.x / 4u][q.x % 4u] = load_a(blk.base_a, blk.m0 + q.x, k0 + q.y, blk.k_end);
      }
      for (var i = 0u; i < B_LOADS; i++) {
        let q = b_tile_pos(i * THREADS + t);
        b_tile[q.y][q.x / 4u][q.x % 4u] = load_b(blk.base_b, blk.n0 + q.x, k0 + q.y, blk.k_end);
      }
    }
    workgroupBarrier();
    // The 8×8 block is rows tm·4 + {0..3} and BM/2 + tm·4 + {0..3} by columns tn·4 + {0..3}
    // and BN/2 + tn·4 + {0..3}: at each k a warp reads neighbouring vec4s of a tile row (no
    // bank conflicts). Written out so that the driver keeps all of it in registers.
    for (var k = 0u; k < BK; k++) {
      let a0 = a_tile[k][tm];
      let a1 = a_tile[k][THREADS_M + tm];
      let b0 = b_tile[k][tn];
      let b1 = b_tile[k][THREADS_N + tn];
      acc[0] = fma(vec4f(a0.x), b0, acc[0]);    acc[1] = fma(vec4f(a0.x), b1, acc[1]);
      acc[2] = fma(vec4f(a0.y), b0, acc[2]);    acc[3] = fma(vec4f(a0.y), b1, acc[3]);
      acc[4] = fma(vec4f(a0.z), b0, acc[4]);    acc[5] = fma(vec4f(a0.z), b1, acc[5]);
      acc[6] = fma(vec4f(a0.w), b0, acc[6]);    acc[7] = fma(vec4f(a0.w), b1, acc[7]);
      acc[8] = fma(vec4f(a1.x), b0, acc[8]);    acc[9] = fma(vec4f(a1.x), b1, acc[9]);
      acc[10] = fma(vec4f(a1.y), b0, acc[10]);  acc[11] = fma(vec4f(a1.y), b1, acc[11]);
      acc[12] = fma(vec4f(a1.z), b0, acc[12]);  acc[13] = fma(vec4f(a1.z), b1, acc[13]);
      acc[14] = fma(vec4f(a1.w), b0, acc[14]);  acc[15] = fma(vec4f(a1.w), b1, acc[15]);
    }
  }

  // The stores name every accumulator by a constant index: indexing `acc` with a loop counter
  // made the NVIDIA compiler keep the whole array in local memory once the epilogue grew (bias
  // and accumulate together ran 16× slower).
  let base_c = wid.z * p.stride_c;
  let r0 = blk.m0 + tm * 4u;
  let r1 = blk.m0 + BM / 2u + tm * 4u;
  let c0 = blk.n0 + tn * 4u;
  let c1 = blk.n0 + BN / 2u + tn * 4u;
  store4(base_c, r0, c0, acc[0]);       store4(base_c, r0, c1, acc[1]);
  store4(base_c, r0 + 1u, c0, acc[2]);  store4(base_c, r0 + 1u, c1, acc[3]);
  store4(base_c, r0 + 2u, c0, acc[4]);  store4(base_c, r0 + 2u, c1, acc[5]);
  store4(base_c, r0 + 3u, c0, acc[6]);  store4(base_c, r0 + 3u, c1, acc[7]);
  store4(base_c, r1, c0, acc[8]);       store4(base_c, r1, c1, acc[9]);
  store4(base_c, r1 + 1u, c0, acc[10]); store4(base_c, r1 + 1u, c1, acc[11]);
  store4(base_c, r1 + 2u, c0, acc[12]); store4(base_c, r1 + 2u, c1, acc[13]);
  store4(base_c, r1 + 3u, c0, acc[14]); store4(base_c, r1 + 3u, c1, acc[15]);
}

// C[m, n .. n+3] = v (+ bias) (+ C), the columns past N skipped.
fn store4(base_c: u32, m: u32, n: u32, v: vec4f) {
  if (m >= p.M) { return; }
  for (var e = 0u; e < 4u && n + e < p.N; e++) {
    let at = base_c + m * p.N + n + e;
    var out = v[e];
    if (BIAS) { out += bias[n + e]; }
    if (ACCUMULATE) { out += f32(c[at]); }
    c[at] = C_T(out);
  }
}

// Second stage of split-K: C[i] = Σ_split partial[split][i] (+ bias) (+ C), over M·N elements,
// partials read through binding `a` ([splits, M·N], A_T = f32). Grid: 1-D, folded as grid1d.
@compute @workgroup_size(256)
fn reduce_splits(@builtin(global_invocation_id) g: vec3u) {
  let i = g.x + g.y * p.row;
  let size = p.M * p.N;
  if (i >= size) { return; }
  var sum = 0.0;
  for (var s = 0u; s < p.splits; s++) { sum += f32(a[s * size + i]); }
  if (BIAS) { sum += bias[i % p.N]; }
  if (ACCUMULATE) { sum += f32(c[i]); }
  c[i] = C_T(sum);
}

// Column sums of `a` [M, N] (the bias gradient Σ_rows dy), first stage: c[chunk·N + col] = Σ a
// over the k_chunk rows of each chunk (grid y); reduce_splits with M = 1 adds the chunks. A
// workgroup is 64 columns × 4 row lanes: each row read is 256 contiguous bytes.
const COLSUM_COLS = 64u;
var<workgroup> colsum_lane: array<f32, 256>;

@compute @workgroup_size(256)
fn colsum_partials(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) t: u32) {
  let col = wid.x * COLSUM_COLS + t % COLSUM_COLS;
  let lane = t / COLSUM_COLS;
  let end = min(p.M, (wid.y + 1u) * p.k_chunk);
  var sum = vec4f(0.0);
  if (col < p.N) {
    var r = wid.y * p.k_chunk + lane;
    // Four rows per step keep four loads in flight per thread.
    for (; r + 12u < end; r += 16u) {
      sum += vec4f(f32(a[r * p.N + col]), f32(a[(r + 4u) * p.N + col]), f32(a[(r + 8u) * p.N + col]), f32(a[(r + 12u) * p.N + col]));
    }
    for (; r < end; r += 4u) { sum.x += f32(a[r * p.N + col]); }
  }
  colsum_lane[t] = (sum.x + sum.y) + (sum.z + sum.w);
  workgroupBarrier();
  if (lane == 0u && col < p.N) {
    let s = (colsum_lane[t] + colsum_lane[t + 64u]) + (colsum_lane[t + 128u] + colsum_lane[t + 192u]);
    c[wid.y * p.N + col] = C_T(s);
  }
}
