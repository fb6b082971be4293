/**
 * Which adapter a process takes when a machine has several. Dawn enumerates every adapter (see
 * shim.c); IFLAME_ADAPTER picks one by index in that list or by a name substring, and without
 * it a data-parallel rank takes the discrete GPU of its local rank (modulo their count), so the
 * ranks of one host spread over its GPUs. A single process without IFLAME_ADAPTER keeps
 * webgpu.h's high-performance adapter.
 */
import type { AdapterInfo } from "./adapter.ts";

export interface AdapterRequest {
  /** $IFLAME_ADAPTER: an index in the enumerated list, or a case-insensitive name substring. */
  choice?: string;
  /** A data-parallel rank's index among the ranks of its host. */
  localRank?: number;
}

export function adapterName(a: AdapterInfo): string {
  return `${a.vendor ? `${a.vendor} ` : ""}${a.device} (${a.backend}, ${a.adapterType})`;
}

/** "0 nvidia NVIDIA H200 (Vulkan, discrete GPU), 1 …", for messages and `iflame info`. */
export function adapterList(adapters: readonly AdapterInfo[]): string {
  return adapters.map((a, i) => `${i} ${adapterName(a)}`).join(", ");
}

/** The index to take among `adapters`, or null for webgpu.h's default adapter. Throws one line when nothing matches. */
export function pickAdapter(adapters: readonly AdapterInfo[], { choice, localRank }: AdapterRequest): number | null {
  if (choice !== undefined && choice !== "") {
    const index = /^\d+$/.test(choice)
      ? Number(choice)
      : adapters.findIndex((a) => `${a.vendor} ${a.device} ${a.description} ${a.backend}`.toLowerCase().includes(choice.toLowerCase()));
    if (index >= 0 && index < adapters.length) return index;
    throw new Error(`IFLAME_ADAPTER=${choice}: no such adapter; this machine has ${adapters.length}: ${adapterList(adapters) || "none"}`);
  }
  if (localRank === undefined) return null;
  const discrete = adapters.flatMap((a, i) => (a.adapterType === "discrete GPU" ? [i] : []));
  return discrete.length ? discrete[localRank % discrete.length] : null;
}
