// Closes a decoding step: for each of B sequences, notes where its first end token is, then moves
// the cursor (the position the sampler writes next) one on.
//   c = cursor[0]
//   ended[b] = c   if c < S, ended[b] == 0 and tokens[b·S + c] == END   (0: no end yet)
//   cursor[0] = c + 1
// tokens [B, S] i32, cursor u32 [1], ended [B] i32. One workgroup: every thread reads c before the
// barrier, and only then does thread 0 write it. Constant: END (the end token).

struct Params { B: u32, S: u32 }

@group(0) @binding(0) var<storage, read> tokens: array<i32>;
@group(0) @binding(1) var<storage, read_write> cursor: array<u32>;
@group(0) @binding(2) var<storage, read_write> ended: array<i32>;
@group(0) @binding(3) var<uniform> p: Params;

const WG: u32 = 64u;

@compute @workgroup_size(WG)
fn advance(@builtin(local_invocation_index) t: u32) {
  let c = cursor[0];
  if (c < p.S) {
    for (var b = t; b < p.B; b += WG) {
      if (ended[b] == 0 && tokens[b * p.S + c] == END) { ended[b] = i32(c); }
    }
  }
  storageBarrier();
  if (t == 0u) { cursor[0] = c + 1u; }
}
