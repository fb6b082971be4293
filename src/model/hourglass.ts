/**
 * The hourglass over the token axis (SPEC §2): five levels of blocks, each pool or upsample by 3.
 *
 *   x = RMSNorm(Embedding(tokens))
 *   enc0 @ L;   skip0 = x;  x = avgpool3(x)
 *   enc1 @ L/3; skip1 = x;  x = avgpool3(x)
 *   bottleneck @ L/9 (bottlenecke then bottleneckd)
 *   x = skip_weights2[0]·shift2(upsample3(x)) + skip1;  dec0 @ L/3
 *   x = skip_weights2[1]·shift2(upsample3(x)) + skip0;  dec1 @ L
 *   logits = output_proj(x)                              (no final norm)
 */

/** The levels in order; a level's index is its place in blocksPerLevel and in ModelWeights.levels. */
export const LEVELS = ["enc0", "enc1", "bottleneck", "dec0", "dec1"] as const;

/** Pool window and upsample factor between neighbouring levels. */
export const FACTOR = 3;

/**
 * Positions each level holds for the fine positions 0..n−1: [n, ⌊n/3⌋, ⌊n/9⌋, ⌊n/3⌋, n]. For a
 * full forward n is a multiple of 9; cached decoding reads it after any number of steps.
 */
export function levelLengths(n: number): [number, number, number, number, number] {
  const coarse = Math.floor(n / FACTOR);
  return [n, coarse, Math.floor(coarse / FACTOR), coarse, n];
}
