// The hourglass's resampling for one position of cached decoding (src/generate/decoder.ts), over
// n values ([B, D] rows), one thread per value, flat grid folded into x·y:
//   mean3:      out = (a + b + c) / 3            the avgpool3 of one coarse position from its three
//                                                fine rows, summed in pool_forward's order
//   scale_add:  out = weights[w_index] · a + b   the skip add of hourglass-upsample.wgsl for one
//                                                position: a is the latest coarse output (what
//                                                shift2(upsample3(·)) hands this position), b the skip
// (scale_add reads weights through binding c.)

struct Params { n: u32, w_index: u32, row: u32 }

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> c: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

@compute @workgroup_size(256)
fn mean3(@builtin(global_invocation_id) g: vec3u) {
  let i = g.x + g.y * p.row;
  if (i >= p.n) { return; }
  out[i] = (a[i] + b[i] + c[i]) / 3.0;
}

@compute @workgroup_size(256)
fn scale_add(@builtin(global_invocation_id) g: vec3u) {
  let i = g.x + g.y * p.row;
  if (i >= p.n) { return; }
  out[i] = c[p.w_index] * a[i] + b[i];
}
