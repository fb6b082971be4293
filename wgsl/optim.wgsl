// The AdamW part of the reference optimizer (iFlame.py, Muon's "AdamW backup"), elementwise over
// one flat parameter (or a flat view of many):
//   g = grad · clip;  m = β1 m + (1−β1) g;  v = β2 v + (1−β2) g²
//   param ← param · decay − step_size · m / (eps + √v)
// with decay = 1 − lr·wd and step_size = lr · √(1−β2^t) / (1−β1^t) (eps on the uncorrected √v,
// as the reference). The per-step scalars (decay, step size, clip scale, non-finite flag) are read
// from the step tensor in GPU memory, at indices STEP_* given by src/kernels/optim.ts, so a new
// learning rate or clip scale each step changes no uniform block and needs no CPU round trip.
// A step whose gradients were not finite (flag set by grad_norm_finalize) changes nothing.

struct Params {
  n: u32,
  row: u32, // threads per grid row (grid1d folding)
  beta1: f32,
  beta2: f32,
  eps: f32,
}

@group(0) @binding(0) var<storage, read_write> param: array<f32>;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<storage, read> step: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;

// All loads come before the stores: a compiler may not move a load above a store to another
// binding (they could alias), and interleaving them halved the bandwidth on an H100.
@compute @workgroup_size(256)
fn adamw_step(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x + id.y * p.row;
  if (i >= p.n || step[STEP_NON_FINITE] != 0.0) { return; }
  let g = grad[i] * step[STEP_CLIP_SCALE];
  let param_old = param[i];
  let m_old = m[i];
  let v_old = v[i];
  let decay = step[STEP_DECAY];
  let step_size = step[STEP_ADAM_STEP_SIZE];
  let m_new = p.beta1 * m_old + (1.0 - p.beta1) * g;
  let v_new = p.beta2 * v_old + (1.0 - p.beta2) * g * g;
  m[i] = m_new;
  v[i] = v_new;
  param[i] = param_old * decay - step_size * (m_new / (p.eps + sqrt(v_new)));
}
