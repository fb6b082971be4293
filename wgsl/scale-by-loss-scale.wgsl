// x[i] *= S, the loss scale in the optimizer's step tensor (at STEP_LOSS_SCALE): the loss
// gradient that seeds the backward pass of mixed-precision training (see loss-scale.wgsl).

struct Params { n: u32, row: u32 }

@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read> step: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(256)
fn scale_by_loss_scale(@builtin(global_invocation_id) g: vec3u) {
  let i = g.x + g.y * p.row;
  if (i < p.n) { x[i] *= step[STEP_LOSS_SCALE]; }
}
