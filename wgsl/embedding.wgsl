// Token embedding, forward and backward. Constants: D (row width), WG (threads).
//
// Forward: out[i, :] = table[tokens[i], :] for n tokens; table [V, D], out [n, D]. One workgroup
// per output row: the token is read once (one address for the whole workgroup), then WG threads
// copy the row, coalesced.
//
// Backward: dtable[v, :] = Σ_{i: tokens[i] = v} dout[i, :], deterministically and without float
// atomics. Workgroup (v, chunk) scans the chunk's tokens in order and sums the rows of dout whose
// token is v into partials[chunk, v, :]; sum_rows (elementwise.wgsl) then adds the chunks in
// order. Scanning is cheap (V is small: 132) and each dout row is read by exactly one workgroup.
// Thread t owns columns t, t + WG, ... of a row (coalesced); WG is also the token tile size.
//
// Each entry point binds only what it uses: the uniform blocks share binding 1, the forward's
// table and out share bindings 2 and 3 with the backward's dout and partials.

struct ForwardParams { n: u32, groups_x: u32 }
struct BackwardParams { n: u32, tokens_per_chunk: u32 }

@group(0) @binding(0) var<storage, read> tokens: array<i32>;
@group(0) @binding(1) var<uniform> p: ForwardParams;
@group(0) @binding(1) var<uniform> pb: BackwardParams;
// forward
@group(0) @binding(2) var<storage, read> table: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
// backward
@group(0) @binding(2) var<storage, read> dout: array<f32>;
@group(0) @binding(3) var<storage, read_write> partials: array<f32>;

const PER_THREAD = (D + WG - 1u) / WG;
var<workgroup> tile: array<i32, WG>;

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) t: u32) {
  let row = wid.x + wid.y * p.groups_x;
  if (row >= p.n) { return; }
  let src = u32(tokens[row]) * D;
  for (var c = t; c < D; c += WG) { out[row * D + c] = table[src + c]; }
}

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u,
            @builtin(local_invocation_index) t: u32) {
  let v = i32(wid.x);
  let first = wid.y * pb.tokens_per_chunk;
  let end = min(pb.n, first + pb.tokens_per_chunk);
  var acc: array<f32, PER_THREAD>;
  for (var start = first; start < end; start += WG) {
    let i = start + t;
    tile[t] = -1;
    if (i < end) { tile[t] = tokens[i]; }
    workgroupBarrier();
    for (var j = 0u; j < WG; j++) {
      if (tile[j] == v) {
        let base = (start + j) * D;
        for (var k = 0u; k < PER_THREAD; k++) {
          let c = t + k * WG;
          if (c < D) { acc[k] += dout[base + c]; }
        }
      }
    }
    workgroupBarrier();
  }
  let at = (wid.y * groups.x + wid.x) * D;
  for (var k = 0u; k < PER_THREAD; k++) {
    let c = t + k * WG;
    if (c < D) { partials[at + c] = acc[k]; }
  }
}
