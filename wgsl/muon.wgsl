// Muon's elementwise steps around the Newton–Schulz orthogonalisation (iFlame.py, class Muon), for
// one 2-D parameter [rows, cols] whose update slot lives in a batched scratch (`update`, at
// update_offset):
//   muon_momentum: g = grad · clip;  buf = μ·buf + g;  update = g + μ·buf (Nesterov) or buf
//   muon_apply:    param ← param · decay − lr · lr_scale · orthogonalised update
// lr_scale = 0.2·√max(rows, cols) (the reference's adjust_lr_for_muon). The per-step scalars and
// the non-finite flag come from the optimizer's step tensor (indices STEP_* from
// src/kernels/optim.ts); a step with non-finite gradients changes nothing. Both kernels take the
// same bindings so one binding list serves a matrix's whole step.

struct Params {
  n: u32,             // rows · cols
  row: u32,           // threads per grid row (grid1d folding)
  update_offset: u32, // this matrix's first element in `update`
  momentum: f32,
  lr_scale: f32,
}

@group(0) @binding(0) var<storage, read_write> param: array<f32>;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> buf: array<f32>;
@group(0) @binding(3) var<storage, read_write> update: array<f32>;
@group(0) @binding(4) var<storage, read> step: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;

@compute @workgroup_size(256)
fn muon_momentum(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x + id.y * p.row;
  if (i >= p.n || step[STEP_NON_FINITE] != 0.0) { return; }
  let g = grad[i] * step[STEP_CLIP_SCALE];
  let b = p.momentum * buf[i] + g;
  buf[i] = b;
  update[p.update_offset + i] = select(b, g + p.momentum * b, NESTEROV);
}

@compute @workgroup_size(256)
fn muon_apply(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x + id.y * p.row;
  if (i >= p.n || step[STEP_NON_FINITE] != 0.0) { return; }
  param[i] = param[i] * step[STEP_DECAY] - step[STEP_LR] * p.lr_scale * update[p.update_offset + i];
}
