// Strided row copy, one thread per value, flat grid folded into x·y:
//   dst[b, dst_row + l, :] = src[b, src_row + l, :]   for b < B, l < rows
// with rows of W values and batch b starting at b·src_stride (src) and b·dst_stride (dst) values.
// Cached decoding (src/generate/decoder.ts) uses it to append new K/V rows to a cache
// [B, capacity, W] and to pick one row per sequence out of a [B, L, W] activation.

struct Params { n: u32, rows: u32, W: u32, src_stride: u32, src_row: u32, dst_stride: u32, dst_row: u32, row: u32 }

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(256)
fn copy_rows(@builtin(global_invocation_id) g: vec3u) {
  let i = g.x + g.y * p.row;
  if (i >= p.n) { return; }
  let per_batch = p.rows * p.W;
  let b = i / per_batch;
  let l = (i % per_batch) / p.W;
  let c = i % p.W;
  dst[b * p.dst_stride + (p.dst_row + l) * p.W + c] = src[b * p.src_stride + (p.src_row + l) * p.W + c];
}
