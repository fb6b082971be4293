/**
 * The attention of a decoding step (wgsl/attention-decode.wgsl): one new query per sequence and
 * head against every key of a K/V cache, the keys split across a workgroup's threads. The general
 * kernel (kernels/attention.ts) serves any number of queries but walks the keys of a query in one
 * thread, which at one query per head leaves the GPU idle over long caches.
 *
 * Layouts: q, out [B, H, headDim] (one position); keys, values [B, capacity, H, headDim], of which
 * positions 0..Lk−1 are attended (the query's own key included: it is written first).
 */
import type { Recorder } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";

/** Threads per (sequence, head): their partial sums take WG·(headDim + 2) floats of workgroup memory. */
const WG = 64;

export interface DecodeAttentionShape {
  B: number;
  H: number;
  /** Keys attended: positions 0..Lk−1 of the cache. */
  Lk: number;
  /** Positions the cache holds per sequence. */
  capacity: number;
  /** Default 32; a multiple of 4. */
  headDim?: number;
}

export interface AttentionDecode {
  q: Tensor;
  keys: Tensor;
  values: Tensor;
  out: Tensor;
  shape: DecodeAttentionShape;
  label?: string;
}

/** Reads q, keys, values; writes out. */
export function attentionDecode(r: Recorder, o: AttentionDecode): void {
  const { q, keys, values, out, shape: s } = o;
  const { B, H, Lk, capacity } = s;
  const hd = s.headDim ?? 32;
  const ok = [B, H, Lk, capacity, hd].every((n) => Number.isInteger(n) && n > 0) && hd % 4 === 0 && Lk <= capacity;
  if (!ok) throw new Error(`attentionDecode: bad shape ${JSON.stringify(s)}`);
  const row = H * hd;
  if (q.size < B * row || out.size < B * row) throw new Error(`attentionDecode: q/out smaller than [${B}, ${H}, ${hd}]`);
  if (keys.size < B * capacity * row || values.size < B * capacity * row) throw new Error(`attentionDecode: caches smaller than [${B}, ${capacity}, ${H}, ${hd}]`);
  const k = r.gpu.kernel({
    file: "attention-decode.wgsl", entry: "decode",
    constants: { HD: hd, WG, SCALE_LOG2E: { f32: Math.LOG2E / Math.sqrt(hd) } },
  });
  r.span(o.label ?? "attention", () => `decode B=${B} Lk=${Lk}`, () =>
    r.dispatch(k, [q, keys, values, out], B * H, { u32: [Lk, H, row / 4, row / 4, (capacity * row) / 4] }));
}
