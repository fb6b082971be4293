/**
 * Seeded randomness for data (procedural shapes, epoch shuffles, augmentation seeds), built on the
 * counter-based PCG hash of src/util/rng.ts: a value depends only on its seed and position in the
 * stream, so a run repeats exactly and a resumed run picks up the same sequence.
 */
import { pcgHash, uniform01 } from "../util/rng.ts";

/** Folds integers (any safe integers, order matters) into one 32-bit seed. */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    h = pcgHash((h ^ (p >>> 0)) >>> 0);
    h = pcgHash((h ^ (Math.floor(p / 2 ** 32) >>> 0)) >>> 0);
  }
  return h;
}

export class SeededRandom {
  private counter = 0;
  constructor(private readonly seed: number) {}

  /** Uniform in [0, 1). */
  next(): number {
    return uniform01(this.seed, this.counter++);
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Integer in [lo, hi], both included. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)];
  }
}

/** A permutation of 0..n-1 (Fisher–Yates). */
export function permutation(n: number, seed: number): Uint32Array {
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  const random = new SeededRandom(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = random.int(0, i);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}
