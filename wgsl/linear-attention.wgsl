// Decayed linear attention (SPEC §2, src/cpu/linear-attention.ts), per (batch, head) with slope s:
//   M_t = λ M_{t∓1} + a_tᵀ b_t  (λ = e^{−s}, M 32×32),   out_t = x_t M_t,
// run forward in time (M_{t−1}) or, with REVERSE, backward from the end (M_{t+1}). Every pass of
// the op is this one recurrence with other roles for its inputs (rows [B, L, H, 32]):
//   forward   o  = q S,   S = Σ λ^{t−u} kᵀv        x = q,  a = k,  b = v
//   backward  dq = dO Sᵀ  (Sᵀ = Σ λ^{t−u} vᵀk)      x = dO, a = v,  b = k
//             dv = k G,   G = Σ_{t≥u} λ^{t−u} qᵀdO  x = k,  a = q,  b = dO  (REVERSE)
//             dk = v Gᵀ                            x = v,  a = dO, b = q  (REVERSE, TRANSPOSED)
//
// The sequence is cut into chunks of `chunk` rows, done in three passes that are each parallel
// over (batch, head, chunk) or (batch, head, state element):
//   1. `recurrence` from M = 0 over each chunk alone, writing the chunk's own state T_c into
//      `state` [B·H, chunks, 32, 32] (WRITE_STATE; no output);
//   2. `scan`, one thread per (batch, head, element of M), walks the chunks in order and replaces
//      T_c by the state entering chunk c (M_{c−1} → λ^{n_c} M_{c−1} + T_c); the state after the
//      last chunk goes to `out` [B·H, 32, 32];
//   3. `recurrence` again, each chunk starting from its entering state (FROM_STATE), emitting
//      out_t (EMIT).
// Work is 3·32² multiply-adds per row (a state pass and an emitting pass); traffic is the rows
// (a and b twice) plus one 4 KiB state per chunk moved four times (written, scanned in and out,
// read), which longer chunks shrink and fewer chunks pay for in parallelism (the wrapper picks
// the length). Determinism: every sum has a fixed order. The same entry with chunk = 1,
// FROM_STATE, EMIT and WRITE_STATE is the decoding step (state updated in place), and with one
// chunk per sequence and WRITE_STATE alone it returns the state after a prompt.
// linear-attention-matrices-body.wgsl is passes 1 and 3 on subgroup matrices (f16 operands).
//
// `recurrence`: a group of 32 threads owns one chunk; thread j keeps column j of M in registers,
// so both the update (M[i][j] += a_i b_j) and the output (Σ_i x_i M[i][j]) are thread-local: no
// reductions, no subgroup operations. Rows of a, b, x are staged TILE at a time in workgroup
// memory (a and x are then read as broadcasts, b_j and out_j as one 128-byte row per step), and
// the next tile's loads are issued before the current tile is used, so a group always has a
// tile of reads in flight.
// Within a tile M is kept scaled by λ^{−τ} (τ = rows done in the tile), so the update is one FMA
// per element (M̂ += a (λ^{−τ} b)) and the true M = λ^τ M̂ is restored once per tile; TILE ≤ 16
// keeps λ^{−τ} ≤ e^{16} (slopes are < 1), far from overflow, and rounding is that of the plain form.
//
// Constants: WARPS (groups of 32 threads per workgroup, each its own chunk), TILE (rows staged at
// a time, a multiple of 4, ≤ 16). Flags (uniform): EMIT, REVERSE, TRANSPOSED (read the starting
// state transposed), FROM_STATE, WRITE_STATE. Bindings: x, a, b (rows as vec4), slopes [H], state
// (chunk states, or the [B·H, 32, 32] state of a decoding step), out (output rows, or the final
// state of `scan`). Bindings an entry or variant does not use are bound to placeholders.

//#include "linear-attention-common.wgsl"

// Row r of the tile: a_tile[w][r][i] = a[i], x_tile likewise, b_tile[w][r][j] = b[j] (so that
// the inner loops index with constants and each row's index is checked once).
var<workgroup> a_tile: array<array<array<vec4f, V4>, TILE>, WARPS>;
var<workgroup> x_tile: array<array<array<vec4f, V4>, TILE>, WARPS>;
var<workgroup> b_tile: array<array<array<f32, HD>, TILE>, WARPS>;

// Each thread loads LOADS vec4s of each of a, b, x per tile: vec4 l·32 + j of the tile.
const LOADS = TILE * V4 / 32u;

@compute @workgroup_size(32u * WARPS)
fn recurrence(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let w = li / 32u;
  let j = li % 32u;
  let item = (wid.x + wid.y * (p.row / WARPS)) * WARPS + w;
  // Spare groups of the last workgroup run with no rows (they still meet the barriers).
  let slot = min(item, p.items - 1u); // (batch·H + head)·chunks + chunk
  let bh = slot / p.chunks;
  let first = (slot % p.chunks) * p.chunk;
  let rows = select(0u, min(p.chunk, p.seq_len - first), item < p.items);
  let h = bh % p.heads;
  let lambda = exp(-slopes[h]);
  let inv_lambda = exp(slopes[h]);
  // Step n of the chunk is row `first + n` (REVERSE: `first + rows − 1 − n`), at vec4
  // row0 + n·stride; the stride is negative in REVERSE (two's complement, wrapping on purpose).
  let stride = p.heads * V4;
  let row0 = ((bh / p.heads) * p.seq_len + first + select(0u, max(rows, 1u) - 1u, has(REVERSE))) * stride + h * V4;
  let step_stride = select(stride, 0u - stride, has(REVERSE));

  var m: array<vec4f, V4>; // m[i][e] = M[4i + e][j]
  let at = slot * HD * HD;
  for (var i = 0u; i < V4; i++) {
    if (has(FROM_STATE)) {
      for (var e = 0u; e < 4u; e++) {
        let d = 4u * i + e;
        if (has(TRANSPOSED)) { m[i][e] = state[at + j * HD + d]; } else { m[i][e] = state[at + d * HD + j]; }
      }
    } else {
      m[i] = vec4f(0.0);
    }
  }

  // Software pipeline: the next tile's loads are in flight while the current one is used.
  var next_a: array<vec4f, LOADS>;
  var next_b: array<vec4f, LOADS>;
  var next_x: array<vec4f, LOADS>;
  for (var l = 0u; l < LOADS; l++) {
    let v = l * 32u + j;
    if (v / V4 < rows) {
      let g = row0 + (v / V4) * step_stride + v % V4;
      next_a[l] = a[g];
      next_b[l] = b[g];
      if (has(EMIT)) { next_x[l] = x[g]; }
    }
  }
  for (var t0 = 0u; t0 < p.chunk; t0 += TILE) {
    workgroupBarrier();
    for (var l = 0u; l < LOADS; l++) {
      let v = l * 32u + j;
      a_tile[w][v / V4][v % V4] = next_a[l];
      if (has(EMIT)) { x_tile[w][v / V4][v % V4] = next_x[l]; }
      for (var e = 0u; e < 4u; e++) { b_tile[w][v / V4][4u * (v % V4) + e] = next_b[l][e]; }
    }
    workgroupBarrier();
    for (var l = 0u; l < LOADS; l++) {
      let n = t0 + TILE + (l * 32u + j) / V4;
      if (n < rows) {
        let g = row0 + n * step_stride + (l * 32u + j) % V4;
        next_a[l] = a[g];
        next_b[l] = b[g];
        if (has(EMIT)) { next_x[l] = x[g]; }
      }
    }
    var up = 1.0;   // λ^{−τ}
    var down = 1.0; // λ^τ
    for (var r = 0u; r < TILE; r++) {
      let n = t0 + r;
      if (n < rows) {
        up *= inv_lambda;
        down *= lambda;
        let a_row = &a_tile[w][r];
        let bj = vec4f(b_tile[w][r][j] * up);
        for (var i = 0u; i < V4; i++) { m[i] = fma((*a_row)[i], bj, m[i]); }
        if (has(EMIT)) {
          let x_row = &x_tile[w][r];
          var acc = vec4f(0.0);
          for (var i = 0u; i < V4; i++) { acc = fma((*x_row)[i], m[i], acc); }
          out[4u * (row0 + n * step_stride) + j] = ((acc.x + acc.y) + (acc.z + acc.w)) * down;
        }
      }
    }
    for (var i = 0u; i < V4; i++) { m[i] *= down; }
  }

  if (has(WRITE_STATE) && item < p.items) {
    for (var i = 0u; i < V4; i++) {
      for (var e = 0u; e < 4u; e++) { state[at + (4u * i + e) * HD + j] = m[i][e]; }
    }
  }
}

// Loads of a few chunks are issued before their dependent updates, so each thread keeps several
// reads in flight instead of one per step.
const SCAN_UNROLL = 8u;

@compute @workgroup_size(256)
fn scan(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x + gid.y * p.row;
  if (i >= p.items) { return; }
  let bh = i / (HD * HD);
  let s = slopes[bh % p.heads];
  let base = bh * p.chunks * HD * HD + i % (HD * HD);
  var run = 0.0;
  for (var k0 = 0u; k0 < p.chunks; k0 += SCAN_UNROLL) {
    var own: array<f32, SCAN_UNROLL>;
    for (var u = 0u; u < SCAN_UNROLL; u++) {
      let c = select(k0 + u, p.chunks - 1u - k0 - u, has(REVERSE));
      if (k0 + u < p.chunks) { own[u] = state[base + c * HD * HD]; }
    }
    for (var u = 0u; u < SCAN_UNROLL; u++) {
      let c = select(k0 + u, p.chunks - 1u - k0 - u, has(REVERSE));
      if (k0 + u < p.chunks) {
        state[base + c * HD * HD] = run;
        let rows = min(p.chunk, p.seq_len - c * p.chunk);
        run = fma(exp(-s * f32(rows)), run, own[u]);
      }
    }
  }
  out[i] = run;
}
