/**
 * The level schedule of cached decoding (SPEC §4): which hourglass levels a decoding step at fine
 * position t runs, and at which position of each level's own sequence.
 *
 * Derived from the full forward (src/model/hourglass.ts), with e0 = enc0's outputs at fine positions,
 * e1 = enc1's at coarse positions j, b = the bottleneck's at positions m, d0 = dec0's:
 *   enc1 input  c1[j] = mean(e0[3j], e0[3j+1], e0[3j+2])          → ready at t = 3j + 2
 *   bottleneck  c2[m] = mean(e1[3m], e1[3m+1], e1[3m+2])          → ready at j = 3m + 2, t = 9m + 8
 *   dec0 input  at j:  w0 · b[(j − 2) div 3] + e1[j]   (j ≥ 2; e1[j] alone for j < 2)
 *   dec1 input  at t:  w1 · d0[(t − 2) div 3] + e0[t]  (t ≥ 2; e0[t] alone for t < 2)
 * The last two are shift2(upsample3(·)): the shift by 2 moves the three copies of a coarse output
 * so that they land on the fine positions 3i + 2, 3i + 3, 3i + 4 — the position where that output
 * is computed and the next two. So:
 *   - b[m] is made at coarse j = 3m + 2 and consumed by j = 3m + 2, 3m + 3, 3m + 4: dec0 always
 *     takes the newest bottleneck output (at j < 2 there is none yet: a zero vector, which is the
 *     shift's zero fill);
 *   - d0[j] is made at fine t = 3j + 2 and consumed by t = 3j + 2, 3j + 3, 3j + 4: dec1 always
 *     takes the newest dec0 output (zero at t < 2).
 * The reference (_process_single_token) indexes `(cur_pos − 2) % 3` into three identical
 * upsampled copies of the newest output: the same thing. Hence one decoding step at t runs
 *   enc0 at t; if t % 3 == 2: enc1 at j = (t − 2) / 3, then, if j % 3 == 2, the bottleneck at
 *   m = (j − 2) / 3, then dec0 at j; dec1 at t.
 * The pools need the last three outputs of enc0 (and of enc1): rings of three, slot t % 3 (j % 3).
 */

export interface StepLevels {
  /** Fine position: enc0 and dec1 run here. */
  t: number;
  /** enc1 and dec0 run at this coarse position (when t % 3 == 2), else null. */
  coarse: number | null;
  /** The bottleneck runs at this position (when t % 9 == 8), else null. */
  bottleneck: number | null;
}

export function stepLevels(t: number): StepLevels {
  if (!Number.isInteger(t) || t < 0) throw new Error(`schedule: bad position ${t}`);
  const coarse = t % 3 === 2 ? (t - 2) / 3 : null;
  const bottleneck = coarse !== null && coarse % 3 === 2 ? (coarse - 2) / 3 : null;
  return { t, coarse, bottleneck };
}
