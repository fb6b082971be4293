/** Rank 0's view of a run, sent to every rank: JSON values and whole tensors (weights, optimizer state). */
import type { Gpu } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import type { World } from "./world.ts";

/** Broadcasts a JSON value from rank 0 (its byte length first, then the bytes). */
export function bcastJson<T>(world: World, value: T): T {
  if (world.size === 1) return value;
  const text = world.isRoot ? new TextEncoder().encode(JSON.stringify(value)) : new Uint8Array(0);
  const length = new Float64Array([text.length]);
  world.bcast(new Uint8Array(length.buffer));
  const bytes = world.isRoot ? text : new Uint8Array(length[0]);
  world.bcast(bytes);
  return JSON.parse(new TextDecoder().decode(bytes)) as T;
}

/** Copies rank 0's tensors over every other rank's, in the map's order (the same on every rank). */
export function bcastTensors(world: World, gpu: Gpu, tensors: Map<string, Tensor>): void {
  if (world.size === 1) return;
  for (const t of tensors.values()) {
    const host = world.isRoot ? (gpu.read(t) as Float32Array) : new Float32Array(t.size);
    world.bcast(new Uint8Array(host.buffer, host.byteOffset, host.byteLength));
    if (!world.isRoot) gpu.write(t, host);
  }
}
