// The `recurrence` of linear-attention.wgsl (same bindings, flags, chunks and roles; its header
// gives the math) with the products on subgroup matrices (tensor cores): f16 operands, f32 sums,
// and the state in f32. One workgroup owns one chunk and walks it in blocks of BR = 32 rows
// (steps τ = 0 .. n−1 of a block, n ≤ 32, in REVERSE from the chunk's end), with the state
// entering the block, S, held in f32 registers (thread (g, e) keeps column e of S):
//   scores     P = X·Aᵀ                         on matrices (32×32×32, f32 result)
//   mask       P̃[τ][υ] = f16(P[τ][υ] λ^{τ−υ}) for υ ≤ τ, else 0 (the decay applied in f32)
//   intra      O = P̃·B                          on matrices
//   out_τ     = O_τ + λ^{τ+1} x_τ S             in f32 SIMT (32 multiply-adds per element)
//   state      S ← λ^n S + Ãᵀ·B, Ã_υ = λ^{n−1−υ} a_υ (weighted in f32, then rounded to f16)
// X, A, Ã, B are the block's rows of x, a, b rounded to f16 as they are staged (the model holds
// q, k, v, dO in f32), zero past the block's last row.
// Why x_τ S runs in SIMT and not on matrices: S must stay f32 (it sums up to 1/(1−λ) rows, and
// grows further under loss scaling), and an f16 copy would round it to 11 bits and overflow past
// 65504; this term costs 32² multiply-adds per row, as each of the SIMT kernel's two per-row
// terms, while the matrices take the other three products (scores, intra, state).
// Rounding beyond the inputs' f16: P̃ once per entry (2^-11 relative), and Ã; sums are f32.
// Decays λ^{τ−υ} below f16's smallest subnormal (6e-8) flush to zero: terms that small against
// the block's own diagonal do not show at f16 precision. Overflow (|x·a| > 65504, e.g. dO under a
// large loss scale) gives ±inf, which the dynamic loss scaling of f16 training skips and halves.
//
// Work per 32-row block: the three 32×32×32 products are spread over the workgroup's subgroups,
// one SM_M × SM_N result matrix at a time (tiles of P above the diagonal skipped); the f32 parts
// run on THREADS = 128 threads as 4 row groups g of 32 columns e. Workgroup memory: five 32×32
// f16 operands and one 32×32 f32 result stage (14 KiB).
//
// Constants: SM_M, SM_N, SM_K (the device's matrix shape; each divides 32). The adapter's
// subgroup sizes must divide THREADS (the subgroups present are counted from subgroup_size). The
// including file picks the spelling of the matrix builtins (subgroup-matrix-spelling*.wgsl).
// Operand tiles are unpadded (bank conflicts on loads: a tuning question for a GPU session).

//#include "linear-attention-common.wgsl"

const THREADS = 128u;
const BR = HD;
const GROUPS = THREADS / HD;
// The products of a block, in order.
const SCORES = 0u;
const INTRA = 1u;
const STATE = 2u;

// Operands in matrix_tiles, each 32×32 row-major (leading dimension HD): the block's x, a, the
// weighted a (Ã), b, and the masked scores P̃.
const X_AT = 0u;
const A_AT = HD * HD;
const AW_AT = 2u * HD * HD;
const B_AT = 3u * HD * HD;
const P_AT = 4u * HD * HD;
var<workgroup> matrix_tiles: array<f16, 5u * HD * HD>;
var<workgroup> matrix_stage: array<f32, HD * HD>;

fn load_left(offset: u32, cols: bool) -> Left {
  if (cols) { return load_left_cols(offset, HD); }
  return load_left_rows(offset, HD);
}

fn load_right(offset: u32, cols: bool) -> Right {
  if (cols) { return load_right_cols(offset, HD); }
  return load_right_rows(offset, HD);
}

// matrix_stage ← L·R, 32×32×32, where L is the operand at `left` (its transpose when `left_t`)
// and R likewise; each subgroup computes result matrices sg, sg + subgroups, ... With `causal`,
// matrices wholly above the diagonal are skipped (their stage is stale; the mask does not read it).
fn product(left: u32, left_t: bool, right: u32, right_t: bool, causal: bool, sg: u32, subgroups: u32) {
  for (var m = sg; m < (HD / SM_M) * (HD / SM_N); m += subgroups) {
    let r0 = (m / (HD / SM_N)) * SM_M;
    let c0 = (m % (HD / SM_N)) * SM_N;
    if (causal && c0 >= r0 + SM_M) { continue; }
    var acc: Result;
    for (var k = 0u; k < HD; k += SM_K) {
      let l = load_left(left + select(r0 * HD + k, k * HD + r0, left_t), left_t);
      let r = load_right(right + select(k * HD + c0, c0 * HD + k, right_t), right_t);
      acc = subgroupMatrixMultiplyAccumulate(l, r, acc);
    }
    store_result(r0 * HD + c0, acc, HD);
  }
}

@compute @workgroup_size(THREADS)
fn recurrence(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(local_invocation_index) t: u32,
  @builtin(subgroup_id) sg: u32,
  @builtin(subgroup_size) lanes: u32,
) {
  let item = wid.x + wid.y * p.row; // (batch·H + head)·chunks + chunk
  if (item >= p.items) { return; }  // whole workgroups: uniform
  let bh = item / p.chunks;
  let first = (item % p.chunks) * p.chunk;
  let rows = min(p.chunk, p.seq_len - first);
  let h = bh % p.heads;
  let s = slopes[h];
  let subgroups = THREADS / lanes;
  let e = t % HD;
  let g = t / HD;
  // Step n of the chunk is row first + n (REVERSE: first + rows − 1 − n); rows are `stride` vec4s apart.
  let stride = p.heads * V4;
  let batch_row = (bh / p.heads) * p.seq_len;
  let at = item * HD * HD;

  var m: array<f32, HD>; // m[d] = S[d][e]
  if (has(FROM_STATE)) {
    for (var d = 0u; d < HD; d++) { m[d] = state[at + select(d * HD + e, e * HD + d, has(TRANSPOSED))]; }
  }

  for (var n0 = 0u; n0 < rows; n0 += BR) {
    let n = min(BR, rows - n0);
    workgroupBarrier();
    for (var v = t; v < BR * V4; v += THREADS) {
      let r = v / V4;
      let c = v % V4;
      var xv = vec4f(0.0);
      var av = vec4f(0.0);
      var bv = vec4f(0.0);
      var weight = 0.0;
      if (r < n) {
        let step = n0 + r;
        let row = batch_row + first + select(step, rows - 1u - step, has(REVERSE));
        let gv = row * stride + h * V4 + c;
        av = a[gv];
        bv = b[gv];
        if (has(EMIT)) { xv = x[gv]; }
        weight = exp(-s * f32(n - 1u - r));
      }
      for (var i = 0u; i < 4u; i++) {
        let o = r * HD + 4u * c + i;
        matrix_tiles[X_AT + o] = f16(xv[i]);
        matrix_tiles[A_AT + o] = f16(av[i]);
        matrix_tiles[AW_AT + o] = f16(av[i] * weight);
        matrix_tiles[B_AT + o] = f16(bv[i]);
      }
    }
    workgroupBarrier();
    // The block's products, each followed by its f32 part: scores → mask, intra → emit (EMIT
    // only), state → update (unless the chunk ends here and no state is written). One call site
    // for the three products keeps the shader small (compiles on CPU drivers are slow).
    let carry = n0 + BR < rows || has(WRITE_STATE);
    for (var phase = select(STATE, SCORES, has(EMIT)); phase < select(STATE, STATE + 1u, carry); phase++) {
      let scores = phase == SCORES;
      let left = select(select(AW_AT, P_AT, phase == INTRA), X_AT, scores);
      product(left, phase == STATE, select(B_AT, A_AT, scores), scores, scores, sg, subgroups);
      workgroupBarrier();
      if (scores) {
        for (var o = t; o < BR * BR; o += THREADS) {
          let r = o / BR;
          let c = o % BR;
          var masked = 0.0;
          if (c <= r) { masked = matrix_stage[o] * exp(-s * f32(r - c)); }
          matrix_tiles[P_AT + o] = f16(masked);
        }
      } else if (phase == INTRA) {
        for (var r = g; r < n; r += GROUPS) {
          var acc = 0.0;
          for (var d = 0u; d < HD; d++) { acc = fma(f32(matrix_tiles[X_AT + r * HD + d]), m[d], acc); }
          let step = n0 + r;
          let row = batch_row + first + select(step, rows - 1u - step, has(REVERSE));
          out[(row * p.heads + h) * HD + e] = fma(exp(-s * f32(r + 1u)), acc, matrix_stage[r * HD + e]);
        }
      } else {
        let decay = exp(-s * f32(n));
        for (var d = 0u; d < HD; d++) { m[d] = fma(decay, m[d], matrix_stage[d * HD + e]); }
      }
      workgroupBarrier();
    }
  }

  if (has(WRITE_STATE) && g == 0u) {
    for (var d = 0u; d < HD; d++) { state[at + d * HD + e] = m[d]; }
  }
}
