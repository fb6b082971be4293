/**
 * Token embedding (wgsl/embedding.wgsl, embedding-backward.wgsl). Layouts: tokens [n] i32 with
 * values in [0, V); table, dtable [V, D]; out, dout [n, D] (n = B·L).
 */
import { grid1d, type Recorder } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { rowThreads, sumRows } from "./elementwise.ts";
import forwardSrc from "../../wgsl/embedding.wgsl" with { type: "text" };
import backwardSrc from "../../wgsl/embedding-backward.wgsl" with { type: "text" };

/** Tokens scanned by one backward workgroup: more chunks mean more partial sums to add up. */
const TOKENS_PER_CHUNK = 1024;
const BACKWARD_WG = 128;

/** Elements of the scratch tensor embeddingBackward needs: one [V, D] partial per chunk. */
export function embeddingScratchSize(n: number, V: number, D: number): number {
  return Math.max(1, Math.ceil(n / TOKENS_PER_CHUNK)) * V * D;
}

/** Reads tokens and table; writes out. */
export function embeddingForward(r: Recorder, tokens: Tensor, table: Tensor, out: Tensor, n: number, D: number): void {
  const k = r.gpu.kernel({ file: "embedding.wgsl", code: forwardSrc, entry: "forward", constants: { D, WG: rowThreads(D) } });
  const { workgroups, row } = grid1d(n, 1);
  r.dispatch(k, [tokens, table, out], workgroups, { u32: [n, row] });
}

/**
 * Reads tokens and dout; writes dtable (or adds into it with `accumulate`).
 * scratch: ≥ embeddingScratchSize(n, V, D) elements.
 */
export function embeddingBackward(
  r: Recorder, tokens: Tensor, dout: Tensor, dtable: Tensor, scratch: Tensor, n: number, V: number, D: number,
  accumulate = false,
): void {
  const chunks = Math.max(1, Math.ceil(n / TOKENS_PER_CHUNK));
  if (scratch.size < chunks * V * D) throw new Error(`embeddingBackward: scratch has ${scratch.size} elements, needs ${chunks * V * D}`);
  const k = r.gpu.kernel({ file: "embedding-backward.wgsl", code: backwardSrc, entry: "backward", constants: { D, WG: BACKWARD_WG } });
  r.dispatch(k, [tokens, dout, scratch], [V, chunks], { u32: [n, TOKENS_PER_CHUNK] });
  sumRows(r, scratch, dtable, chunks, V * D, 0, accumulate);
}
