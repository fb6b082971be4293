// What both forms of the linear-attention recurrence share (linear-attention.wgsl, SIMT, and
// linear-attention-matrices-body.wgsl, on subgroup matrices): the uniform block, the variant flags
// and the bindings (see linear-attention.wgsl's header).

struct Params {
  seq_len: u32, // L
  heads: u32,   // H
  chunk: u32,   // rows per chunk
  chunks: u32,  // chunks per (batch, head) = ceil(L / chunk)
  items: u32,   // recurrence: B·H·chunks chunks; scan: B·H·32·32 threads
  row: u32,     // items per row of the (x, y) grid (see grid1d)
  flags: u32,   // EMIT | REVERSE | TRANSPOSED | FROM_STATE | WRITE_STATE
}

// Variant flags are uniforms rather than constants: the branches they take are uniform, so they
// cost nearly nothing, and one pipeline serves every pass (each compile is slow on CPU drivers).
const EMIT = 1u;
const REVERSE = 2u;
const TRANSPOSED = 4u;
const FROM_STATE = 8u;
const WRITE_STATE = 16u;

fn has(flag: u32) -> bool {
  return (p.flags & flag) != 0u;
}

@group(0) @binding(0) var<storage, read> x: array<vec4f>;
@group(0) @binding(1) var<storage, read> a: array<vec4f>;
@group(0) @binding(2) var<storage, read> b: array<vec4f>;
@group(0) @binding(3) var<storage, read> slopes: array<f32>;
@group(0) @binding(4) var<storage, read_write> state: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
@group(0) @binding(6) var<uniform> p: Params;

const HD = 32u;
const V4 = HD / 4u;
