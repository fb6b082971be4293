/**
 * Token embedding (wgsl/embedding.wgsl, forward and backward). Layouts: tokens [n] i32 with
 * values in [0, V); table, dtable [V, D]; out, dout [n, D] (n = B·L).
 */
import { grid1d, type Recorder } from "../gpu/runtime.ts";
import { checkTensorSizes, lastDim, type Tensor } from "../gpu/tensor.ts";
import { rowThreads, sumRows } from "./elementwise.ts";

/** Tokens scanned by one backward workgroup: more chunks mean more partial sums to add up. */
const TOKENS_PER_CHUNK = 1024;
const BACKWARD_WG = 128;

/** Elements of the scratch tensor embeddingBackward needs: one [V, D] partial per chunk. */
export function embeddingScratchSize(n: number, V: number, D: number): number {
  return Math.max(1, Math.ceil(n / TOKENS_PER_CHUNK)) * V * D;
}

/** Reads tokens [n] and table [V, D]; writes out [n, D]. */
export function embeddingForward(r: Recorder, o: { tokens: Tensor; table: Tensor; out: Tensor; label?: string }): void {
  const n = o.tokens.size;
  const D = lastDim("embeddingForward", "table", o.table);
  checkTensorSizes("embeddingForward", { out: [o.out, n * D] });
  const k = r.gpu.kernel({ file: "embedding.wgsl", entry: "forward", constants: { D, WG: rowThreads(D) } });
  const { workgroups, row } = grid1d(n, 1);
  r.span(o.label ?? "embedding", () => `forward n=${n} D=${D}`, () => r.dispatch(k, [o.tokens, o.table, o.out], workgroups, { u32: [n, row] }));
}

export interface EmbeddingBackward {
  tokens: Tensor;
  dout: Tensor;
  /** [V, D]. */
  dtable: Tensor;
  /** ≥ embeddingScratchSize(n, V, D) elements. */
  scratch: Tensor;
  /** dtable += instead of =. */
  accumulate?: boolean;
  label?: string;
}

/** Reads tokens [n] and dout [n, D]; writes dtable (or adds into it with `accumulate`). */
export function embeddingBackward(r: Recorder, o: EmbeddingBackward): void {
  const n = o.tokens.size;
  const D = lastDim("embeddingBackward", "dtable", o.dtable);
  const V = o.dtable.size / D;
  const chunks = Math.max(1, Math.ceil(n / TOKENS_PER_CHUNK));
  checkTensorSizes("embeddingBackward", { dout: [o.dout, n * D], scratch: [o.scratch, chunks * V * D] });
  const k = r.gpu.kernel({ file: "embedding.wgsl", entry: "backward", constants: { D, WG: BACKWARD_WG } });
  r.span(o.label ?? "embedding", () => `backward n=${n} V=${V} D=${D}`, () => {
    r.dispatch(k, [o.tokens, o.dout, o.scratch], [V, chunks], { u32: [n, TOKENS_PER_CHUNK] });
    sumRows(r, { partials: o.scratch.head(chunks * V * D).reshape([chunks, V * D]), out: o.dtable, accumulate: o.accumulate });
  });
}
