// Deterministic sums of squares, in two stages so that no atomics are needed and every run adds
// the same numbers in the same order (the result is bit-identical from run to run):
//   1. sum_squares_partials: each workgroup sums the squares of one CHUNK of a segment into one
//      partial (segments are the matrices of a batch, or one gradient tensor per dispatch);
//   2. a finaliser sums the partials of a segment with one workgroup:
//      grad_norm_finalize      → global norm, clip scale and non-finite flag into the optimizer's
//                                step tensor (clip_grad_norm_: min(1, max_norm / (norm + 1e-6)));
//      inv_frobenius_finalize  → 1 / (‖segment‖_F + 1e-7) per segment (Muon's input scaling).
// The step-tensor indices STEP_* come from the TS side (src/kernels/optim.ts).
// workgroup_sum comes from workgroup-sum.wgsl.

//#include "workgroup-sum.wgsl"

struct Params {
  n: u32,          // elements (stage 1) or partials (stage 2) per segment
  src_offset: u32, // first element of segment 0 in src
  dst_offset: u32, // first output slot of segment 0 in dst
  max_norm: f32,
}

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

const WG: u32 = 256u;
const CHUNK: u32 = WG * ITEMS;

// Σ src[start .. start+count), thread t taking start+t, start+t+WG, ... (for the short lists of
// partials).
fn range_sum(tid: u32, start: u32, count: u32) -> f32 {
  var acc = 0.0;
  for (var i = tid; i < count; i += WG) { acc += src[start + i]; }
  return workgroup_sum(acc, tid);
}

// Grid: x = chunk within the segment, y = segment. One partial per workgroup at
// dst[dst_offset + segment · chunks + chunk]. Each thread loads its ITEMS elements (WG apart,
// coalesced) before adding, so they are all in flight at once.
@compute @workgroup_size(WG)
fn sum_squares_partials(@builtin(local_invocation_id) l: vec3u, @builtin(workgroup_id) w: vec3u) {
  let start = p.src_offset + w.y * p.n + w.x * CHUNK;
  let count = min(CHUNK, p.n - w.x * CHUNK);
  var x: array<f32, ITEMS>;
  for (var k = 0u; k < ITEMS; k++) {
    let i = l.x + k * WG;
    x[k] = 0.0;
    if (i < count) { x[k] = src[start + i]; }
  }
  var acc = 0.0;
  for (var k = 0u; k < ITEMS; k++) { acc += x[k] * x[k]; }
  let s = workgroup_sum(acc, l.x);
  if (l.x == 0u) { dst[p.dst_offset + w.y * ((p.n + CHUNK - 1u) / CHUNK) + w.x] = s; }
}

// Inf and NaN are the values whose exponent bits are all ones; tested on the bits because WGSL
// lets compilers assume floats are finite, which can fold a comparison such as x != x away.
fn is_finite(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

// One workgroup over all n partials of a whole gradient. The gradients are of the loss times the
// loss scale S (1 without mixed precision, where dividing by it changes no bit): the norm is
// unscaled, and the clip scale includes 1/S, so the update kernels read unscaled gradients.
@compute @workgroup_size(WG)
fn grad_norm_finalize(@builtin(local_invocation_id) l: vec3u) {
  let sum_sq = range_sum(l.x, p.src_offset, p.n);
  if (l.x == 0u) {
    let unscale = 1.0 / dst[STEP_LOSS_SCALE];
    let norm = sqrt(sum_sq) * unscale;
    let finite = is_finite(norm);
    dst[STEP_GRAD_NORM] = norm;
    dst[STEP_NON_FINITE] = select(1.0, 0.0, finite);
    dst[STEP_CLIP_SCALE] = select(0.0, min(1.0, p.max_norm / (norm + 1e-6)) * unscale, finite);
  }
}

// One workgroup per segment (workgroup_id.x): its n partials → dst[dst_offset + segment].
@compute @workgroup_size(WG)
fn inv_frobenius_finalize(@builtin(local_invocation_id) l: vec3u, @builtin(workgroup_id) w: vec3u) {
  let sum_sq = range_sum(l.x, p.src_offset + w.x * p.n, p.n);
  if (l.x == 0u) { dst[p.dst_offset + w.x] = 1.0 / (sqrt(sum_sq) + 1e-7); }
}
