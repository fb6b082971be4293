/**
 * Memory accounting of cached decoding (SPEC §4: the hourglass cache should need at most 1/8 of a
 * plain transformer's). The decoder's figure counts what it allocated per sequence: K/V caches of
 * its full-attention blocks, each at its level's length (L, L/3 or L/9), the linear blocks'
 * 32×32 states, and the rings and streams between levels.
 */
import type { Network } from "../model/config.ts";
import type { Decoder } from "./decoder.ts";

/** K and V of every block over all `capacity` positions (f32): a plain transformer of the same width and depth. */
export function plainTransformerCacheBytes(network: Network, capacity: number): number {
  const blocks = network.blocksPerLevel.reduce((a, b) => a + b, 0);
  return blocks * 2 * capacity * network.dim * 4;
}

export interface CacheMemory {
  /** Decoding state one sequence holds in the hourglass decoder. */
  bytes: number;
  plainBytes: number;
  ratio: number;
}

export function cacheMemory(decoder: Decoder): CacheMemory {
  const bytes = decoder.cacheBytesPerSequence();
  const plainBytes = plainTransformerCacheBytes(decoder.network, decoder.capacity);
  return { bytes, plainBytes, ratio: bytes / plainBytes };
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(bytes < 2 ** 24 ? 2 : 1)} MiB`;

export function formatCacheMemory(m: CacheMemory, network: Network, capacity: number): string {
  const blocks = network.blocksPerLevel.reduce((a, b) => a + b, 0);
  return `cache per sequence: ${mib(m.bytes)}; a plain ${blocks}-block transformer (width ${network.dim}) at ${capacity} tokens: ${mib(m.plainBytes)}; ratio ${m.ratio.toFixed(3)} (1/${(1 / m.ratio).toFixed(1)})`;
}
