// Next-token sampling, one workgroup per row of V logits, reproducing src/cpu/sampling.ts
// (the reference's generate_sequence) with the counter-based RNG of src/cpu/rng.ts:
//   1. z = logits / temperature over the allowed tokens (mask ≠ 0); p = softmax(z)
//   2. rank tokens by p descending, ties by lower id (p is monotone in the logit, so the rank is
//      taken from the raw f32 logits: exact, with no rounding of z or exp to create false ties)
//   3. keep ranks < top_k; then, walking the ranks, drop rank r > 0 once the cumulative p of the
//      ranks before it exceeds top_p
//   4. u = uniform01(seed + row, counter); the token is the smallest id whose cumulative kept p
//      (in id order) exceeds u · Σ kept p (the last kept one if rounding leaves none)
// The CPU sums in f64 and the GPU in f32, in the same order; the choice can differ only when u
// or top_p falls within f32 rounding of a boundary (probability ~1e-7 per row).
// Constants: V (the vocabulary; one kernel per V), HAS_MASK (read the [B, V] u32 mask),
// POSITION_FROM_GPU (the counter is counter + position[0] and the token goes to
// out[row · out_stride + position[0]], so generation needs no CPU round trip; otherwise the token
// goes to out[row · out_stride]).

struct Params {
  top_k: u32,       // ≥ 1 (the wrapper maps "keep all" to V)
  seed: u32,
  counter: u32,
  out_stride: u32,
  temperature: f32,
  top_p: f32,       // > 1 disables the nucleus cut (cumulative p never exceeds it)
}

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> mask: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<i32>;
@group(0) @binding(3) var<storage, read> position: array<u32>;
@group(0) @binding(4) var<uniform> p: Params;

const WG: u32 = 256u;

var<workgroup> logit: array<f32, V>;
var<workgroup> prob: array<f32, V>;
var<workgroup> allowed: array<bool, V>;
var<workgroup> by_rank: array<u32, V>;
var<workgroup> kept: array<bool, V>;
var<workgroup> lanes: array<f32, WG>;

fn pcg_hash(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

fn uniform01(seed: u32, counter: u32) -> f32 {
  return f32(pcg_hash(counter ^ pcg_hash(seed)) >> 8u) * (1.0 / 16777216.0);
}

// Max (is_max) or sum of lanes over the workgroup; call in uniform control flow.
fn workgroup_reduce(tid: u32, value: f32, is_max: bool) -> f32 {
  lanes[tid] = value;
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    workgroupBarrier();
    if (tid < stride) {
      let other = lanes[tid + stride];
      lanes[tid] = select(lanes[tid] + other, max(lanes[tid], other), is_max);
    }
  }
  workgroupBarrier();
  let total = lanes[0];
  workgroupBarrier();
  return total;
}

// Does token j come before token i in the ranking (allowed first, higher logit, lower id)?
fn ranks_before(j: u32, i: u32) -> bool {
  if (allowed[j] != allowed[i]) { return allowed[j]; }
  return logit[j] > logit[i] || (logit[j] == logit[i] && j < i);
}

@compute @workgroup_size(WG)
fn sample_rows(@builtin(local_invocation_id) l: vec3u, @builtin(workgroup_id) w: vec3u) {
  let tid = l.x;
  let row = w.x;
  let base = row * V;

  var local_max = -0x1.fffffep+127f; // the lowest f32
  for (var i = tid; i < V; i += WG) {
    let x = logits[base + i];
    let ok = !HAS_MASK || mask[base + i] != 0u;
    logit[i] = x;
    allowed[i] = ok;
    if (ok) { local_max = max(local_max, x / p.temperature); }
  }
  let z_max = workgroup_reduce(tid, local_max, true);

  var local_sum = 0.0;
  for (var i = tid; i < V; i += WG) {
    let e = select(0.0, exp(logit[i] / p.temperature - z_max), allowed[i]);
    prob[i] = e;
    local_sum += e;
  }
  let total = workgroup_reduce(tid, local_sum, false);

  for (var i = tid; i < V; i += WG) {
    prob[i] /= total;
    var rank = 0u;
    for (var j = 0u; j < V; j++) {
      if (ranks_before(j, i)) { rank++; }
    }
    by_rank[rank] = i;
    kept[i] = false;
  }
  workgroupBarrier();

  // The cuts and the draw are sequential sums (V is small) in the CPU's order.
  if (tid == 0u) {
    var cumulative = 0.0;
    for (var r = 0u; r < min(p.top_k, V); r++) {
      if (r > 0u && cumulative > p.top_p) { break; }
      let i = by_rank[r];
      kept[i] = true;
      cumulative += prob[i];
    }
    var kept_sum = 0.0;
    for (var i = 0u; i < V; i++) {
      if (kept[i]) { kept_sum += prob[i]; }
    }
    var counter = p.counter;
    var slot = row * p.out_stride;
    if (POSITION_FROM_GPU) {
      if (position[0] >= p.out_stride) { return; } // past the end of the sequence buffer
      counter += position[0];
      slot += position[0];
    }
    let threshold = uniform01(p.seed + row, counter) * kept_sum;
    var running = 0.0;
    var chosen = 0u;
    for (var i = 0u; i < V; i++) {
      if (!kept[i] || prob[i] == 0.0) { continue; }
      running += prob[i];
      chosen = i;
      if (running > threshold) { break; }
    }
    out[slot] = i32(chosen);
  }
}
