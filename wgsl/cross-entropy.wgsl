// Softmax cross-entropy over V classes, fused: one pass over logits [B·L, V] gives dlogits and
// the per-workgroup sums [loss, count, correct] (sum_rows in elementwise.wgsl adds those up).
// Targets come straight from the tokens [B, L] (SPEC §3: logits[:, 8:-1] against tokens[:, 9:]):
// row (b, p) has label tokens[b, p + 1] when FIRST ≤ p ≤ L − 2, and is ignored otherwise or when
// that token is IGNORE (pad). For a kept row with lse = log Σ_c exp(logits[c]):
//   loss = lse − logits[label],  correct = (first argmax == label),
//   dlogits = (softmax − onehot(label)) · scale[0]     (scale = 1 / count, set by the caller);
// ignored rows get zero dlogits and add nothing (their logits are not even read).
// A workgroup holds ROWS rows of LANES threads; lane l owns classes l, l + LANES, ...
// Constants: V, LANES (a power of two), ROWS, FIRST, IGNORE (i32).

struct Params { rows: u32, L: u32, groups_x: u32 }

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> tokens: array<i32>;
@group(0) @binding(2) var<storage, read> scale: array<f32>;
@group(0) @binding(3) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(4) var<storage, read_write> partials: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;

const PER_LANE = (V + LANES - 1u) / LANES;
const LOWEST = -3.40282346638528859812e38f;
var<workgroup> lane_val: array<f32, LANES * ROWS>;
var<workgroup> lane_idx: array<u32, LANES * ROWS>;
var<workgroup> row_stats: array<vec3f, ROWS>;

// Sum of lane_val over the LANES threads of this thread's row (t = row slot · LANES + lane).
fn row_sum(v: f32, t: u32, lane: u32) -> f32 {
  workgroupBarrier();
  lane_val[t] = v;
  for (var s = LANES / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (lane < s) { lane_val[t] += lane_val[t + s]; }
  }
  workgroupBarrier();
  return lane_val[t - lane];
}

@compute @workgroup_size(LANES * ROWS)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) t: u32) {
  let group = wid.x + wid.y * p.groups_x;
  let lane = t % LANES;
  let slot = t / LANES;
  let row = group * ROWS + slot;
  let pos = row % p.L;
  var label = IGNORE;
  if (row < p.rows && pos >= FIRST && pos + 1u < p.L) { label = tokens[row + 1u]; }
  let kept = label != IGNORE;
  let base = row * V;

  // Row maximum and its first index (ties go to the lower class, like torch.argmax).
  var v: array<f32, PER_LANE>;
  var best = LOWEST;
  var best_idx = 0u;
  for (var k = 0u; k < PER_LANE; k++) {
    let c = lane + k * LANES;
    v[k] = LOWEST;
    if (kept && c < V) { v[k] = logits[base + c]; }
    if (v[k] > best) { best = v[k]; best_idx = c; }
  }
  lane_val[t] = best;
  lane_idx[t] = best_idx;
  for (var s = LANES / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (lane < s) {
      let other = lane_val[t + s];
      let other_idx = lane_idx[t + s];
      if (other > lane_val[t] || (other == lane_val[t] && other_idx < lane_idx[t])) {
        lane_val[t] = other;
        lane_idx[t] = other_idx;
      }
    }
  }
  workgroupBarrier();
  let row_max = lane_val[t - lane];
  let argmax = lane_idx[t - lane];

  var sum_exp = 0.0;
  for (var k = 0u; k < PER_LANE; k++) { sum_exp += exp(v[k] - row_max); }
  let lse = row_max + log(row_sum(sum_exp, t, lane));

  let s = scale[0];
  for (var k = 0u; k < PER_LANE; k++) {
    let c = lane + k * LANES;
    if (row < p.rows && c < V) {
      let grad = (exp(v[k] - lse) - select(0.0, 1.0, i32(c) == label)) * s;
      dlogits[base + c] = select(0.0, grad, kept);
    }
  }
  if (lane == 0u) {
    var stats = vec3f(0.0);
    if (kept) { stats = vec3f(lse - logits[base + u32(label)], 1.0, select(0.0, 1.0, i32(argmax) == label)); }
    row_stats[slot] = stats;
  }
  workgroupBarrier();
  if (t == 0u && group * ROWS < p.rows) {
    var total = vec3f(0.0);
    for (var r = 0u; r < ROWS; r++) { total += row_stats[r]; }
    partials[3u * group] = total.x;
    partials[3u * group + 1u] = total.y;
    partials[3u * group + 2u] = total.z;
  }
}
