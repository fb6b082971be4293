// dst[i] = DST_T(src[i]) over n elements: f32 master weights to their f16 copies, activations to
// f16 for the next product, or back. Types: SRC_T, DST_T (f32 or f16). An f32 beyond f16's range
// has no defined f16 (WGSL); GPUs give ±Inf, which the loss scaler's overflow check then sees.

struct Params { n: u32, row: u32 }

@group(0) @binding(0) var<storage, read> src: array<SRC_T>;
@group(0) @binding(1) var<storage, read_write> dst: array<DST_T>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(256)
fn convert(@builtin(global_invocation_id) g: vec3u) {
  let i = g.x + g.y * p.row;
  if (i < p.n) { dst[i] = DST_T(src[i]); }
}
