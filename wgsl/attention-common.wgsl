// Included by attention.wgsl (the forward) and by its backward, attention-backward-dq.wgsl and
// attention-backward-dkdv.wgsl: their uniform block, the q, k, v bindings (layouts in
// attention.wgsl) and the constants all three use. Constants: HD (head dim, a multiple of 4).
// Types: QKV_T, the element type of q, k and v (f32, or f16 in mixed precision: widened to f32
// as they are read, so scores, softmax statistics and sums stay f32).

struct Params {
  lq: u32, lk: u32, q_offset: u32, heads: u32,
  q_stride: u32, kv_stride: u32, q_batch: u32, kv_batch: u32,
}

@group(0) @binding(0) var<storage, read> q: array<vec4<QKV_T>>;
@group(0) @binding(1) var<storage, read> k: array<vec4<QKV_T>>;
@group(0) @binding(2) var<storage, read> v: array<vec4<QKV_T>>;

const V4 = HD / 4u;
const LOG2E = 1.4426950408889634;
