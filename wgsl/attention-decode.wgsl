// Causal softmax attention of one new query per (batch, head) over a K/V cache — the decoding
// step (src/generate/decoder.ts): the query at position lk − 1 sees every cached key 0..lk−1,
//   o = Σ_u softmax_u(q·k_u / sqrt(HD)) v_u.
// attention.wgsl gives each query row to one thread, so with a single query one thread walks all
// lk keys; here the WG threads of a workgroup split the keys (thread t takes u ≡ t mod WG), each
// keeping an online softmax (running max, sum and output, in log2 units for exp2), and the
// partial results are merged in workgroup memory.
// Layout (strides in vec4s): q and o [B, H·HD] (batch b at b·q_batch); key u of batch b, head h
// at b·kv_batch + u·kv_stride + h·HD/4 (a cache [B, capacity, H, HD]). One workgroup per (b, h).
// Constants: HD (head dim, a multiple of 4), WG (threads, a power of two), SCALE_LOG2E (f32).

struct Params { lk: u32, heads: u32, q_batch: u32, kv_stride: u32, kv_batch: u32 }

@group(0) @binding(0) var<storage, read> q: array<vec4f>;
@group(0) @binding(1) var<storage, read> k: array<vec4f>;
@group(0) @binding(2) var<storage, read> v: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> o: array<vec4f>;
@group(0) @binding(4) var<uniform> p: Params;

const V4 = HD / 4u;
// Below any real score but finite, so that a thread with no keys merges as weight exp2(−huge) = 0.
const MASKED = -1e30;

var<workgroup> part_max: array<f32, WG>;
var<workgroup> part_sum: array<f32, WG>;
var<workgroup> part_out: array<vec4f, WG * V4>;

@compute @workgroup_size(WG)
fn decode(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) t: u32) {
  let b = wid.x / p.heads;
  let head = (wid.x % p.heads) * V4;
  let q_at = b * p.q_batch + head;
  let kv_at = b * p.kv_batch + head;
  var qv: array<vec4f, V4>;
  var acc: array<vec4f, V4>;
  for (var j = 0u; j < V4; j++) {
    qv[j] = q[q_at + j] * SCALE_LOG2E;
    acc[j] = vec4f(0.0);
  }
  var m = MASKED;
  var l = 0.0;
  for (var u = t; u < p.lk; u += WG) {
    let row = kv_at + u * p.kv_stride;
    var s4 = vec4f(0.0);
    for (var j = 0u; j < V4; j++) { s4 = fma(qv[j], k[row + j], s4); }
    let s = (s4.x + s4.y) + (s4.z + s4.w);
    let m_new = max(m, s);
    let alpha = exp2(m - m_new);
    let w = exp2(s - m_new);
    l = l * alpha + w;
    for (var j = 0u; j < V4; j++) { acc[j] = fma(vec4f(w), v[row + j], acc[j] * alpha); }
    m = m_new;
  }

  part_max[t] = m;
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    workgroupBarrier();
    if (t < stride) { part_max[t] = max(part_max[t], part_max[t + stride]); }
  }
  workgroupBarrier();
  let scale = exp2(m - part_max[0]);
  part_sum[t] = l * scale;
  for (var j = 0u; j < V4; j++) { part_out[t * V4 + j] = acc[j] * scale; }
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    workgroupBarrier();
    if (t < stride) {
      part_sum[t] += part_sum[t + stride];
      for (var j = 0u; j < V4; j++) { part_out[t * V4 + j] += part_out[(t + stride) * V4 + j]; }
    }
  }
  workgroupBarrier();
  if (t < V4) { o[q_at + t] = part_out[t] / part_sum[0]; }
}
