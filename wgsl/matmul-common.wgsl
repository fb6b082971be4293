// Included by matmul.wgsl (SIMT) and matmul-subgroup-matrix-body.wgsl (tensor cores): their
// uniform block, bindings and the part of C, K and the batch item a workgroup works on.
// Types: A_S, B_S, C_T, the types of a's, b's and c's elements as bound (A_S is A_T, or vec4<A_T>
// where the tensor-core kernel loads quads). Constants: BM, BN (the C tile).

struct Params {
  M: u32, N: u32, K: u32,
  stride_a: u32, stride_b: u32, stride_c: u32,
  splits: u32,
  k_chunk: u32,   // K per split, a multiple of BK
  row: u32,       // reduce_splits: threads per row of its folded 1-D grid
}

@group(0) @binding(0) var<storage, read> a: array<A_S>;
@group(0) @binding(1) var<storage, read> b: array<B_S>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<C_T>;
@group(0) @binding(4) var<uniform> p: Params;

// Workgroup `wid` (x: column tile, y: row tile, z: item · splits + split) sums k in
// [k_begin, k_end) of item's product into C's tile at rows m0 .., columns n0 ...
struct Block { k_begin: u32, k_end: u32, base_a: u32, base_b: u32, m0: u32, n0: u32 }

fn block_of(wid: vec3u) -> Block {
  let item = wid.z / p.splits;
  let k_begin = (wid.z % p.splits) * p.k_chunk;
  return Block(k_begin, min(p.K, k_begin + p.k_chunk), item * p.stride_a, item * p.stride_b, wid.y * BM, wid.x * BN);
}
