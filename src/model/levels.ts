/**
 * The hourglass's levels over the token axis (SPEC §2): five stacks of blocks, neighbours a pool
 * or an upsample by 3 apart (the wiring: src/model/hourglass.ts). A leaf, so the CPU reference
 * reads it without the GPU code.
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
