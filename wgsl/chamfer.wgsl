// Directional Chamfer term of every pair of point clouds: for cloud i of `a` and cloud j of `b`,
// out[i·cols + j] = mean over the P points x of a_i of min over the points y of b_j of |x − y|².
// One workgroup per pair (i = rowStart + workgroup y, j = workgroup x); each thread keeps PER_THREAD
// points of a_i (thread t holds points t, t + WG, ...) and their running minima in registers while
// the points of b_j pass through workgroup memory, WG at a time. The minima are summed per thread in
// a fixed order, then across the workgroup by workgroup_sum's fixed tree: deterministic, no atomics.
// Clouds are [n, P] vec4 (w unused). Constants: WG (a power of two), PER_THREAD, P ≤ WG·PER_THREAD.

struct Params { rowStart: u32, cols: u32 }

@group(0) @binding(0) var<storage, read> a: array<vec4f>;
@group(0) @binding(1) var<storage, read> b: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

var<workgroup> tile: array<vec4f, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) g: vec3u, @builtin(local_invocation_index) t: u32) {
  let i = p.rowStart + g.y;
  let j = g.x;
  var x: array<vec3f, PER_THREAD>;
  var best: array<f32, PER_THREAD>;
  for (var k = 0u; k < PER_THREAD; k++) {
    let at = t + k * WG;
    x[k] = select(vec3f(0.0), a[i * P + min(at, P - 1u)].xyz, at < P);
    best[k] = 3.0e38;
  }
  for (var start = 0u; start < P; start += WG) {
    if (start + t < P) { tile[t] = b[j * P + start + t]; }
    workgroupBarrier();
    let n = min(WG, P - start);
    for (var s = 0u; s < n; s++) {
      let y = tile[s].xyz;
      for (var k = 0u; k < PER_THREAD; k++) {
        let d = x[k] - y;
        best[k] = min(best[k], dot(d, d));
      }
    }
    workgroupBarrier();
  }
  var sum = 0.0;
  for (var k = 0u; k < PER_THREAD; k++) {
    if (t + k * WG < P) { sum += best[k]; }
  }
  let total = workgroup_sum(sum, t);
  if (t == 0u) { out[i * p.cols + j] = total / f32(P); }
}
