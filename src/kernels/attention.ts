/**
 * Causal softmax attention, flash style (wgsl/attention.wgsl, attention-backward-dq.wgsl,
 * attention-backward-dkdv.wgsl; reference src/cpu/attention.ts), scale 1/sqrt(headDim). RoPE is
 * applied to q and k beforehand. Memory is O(L): no L×L buffer at any length.
 *
 * Layouts. q, out, dOut, dq: Lq rows per batch, row stride qStride elements (H·headDim when
 * contiguous), head h at h·headDim within a row: [B, Lq, H, headDim]. k, v, dk, dv: kvCapacity
 * rows per batch (≥ Lk; a decoding cache [B, Lmax, H, headDim] has kvCapacity = Lmax), row stride
 * kvStride. lse and delta: [B, H, Lq] (note: the CPU reference keeps lse as [B, L, H]).
 *
 * Query i sits at position qOffset + i of the key sequence and sees keys 0..min(qOffset + i,
 * Lk − 1): a full forward has Lq = Lk, qOffset = 0; a cached decoding step of Lq new tokens after
 * `past` has qOffset = past, Lk = past + Lq, with the new keys already written into the cache.
 *
 * Precision: q, k, v may be f16 (all three alike) and out f32 or f16 (mixed precision); scores,
 * softmax statistics (lse, delta) and every sum stay f32, and so do dOut and the gradients.
 * With f16 q, k, v the products may run on subgroup matrices (attention-matrices.ts: where the
 * device has them and tensorCores() allows), with the same layouts and results.
 */
import type { Recorder } from "../gpu/runtime.ts";
import { checkTensorSizes, type Tensor } from "../gpu/tensor.ts";
import { attentionGrid, attentionKernel, attentionMatrices, type AttentionMatrices } from "./attention-matrices.ts";

export interface AttentionShape {
  B: number;
  H: number;
  Lq: number;
  Lk: number;
  /** Position of query 0 within the key sequence. */
  qOffset: number;
  /** Row stride (elements) between consecutive positions of q/o and of k/v. */
  qStride?: number;
  kvStride?: number;
  /** Rows per batch in k/v (the cache capacity); default Lk. */
  kvCapacity?: number;
  /** Default 32; a multiple of 4. */
  headDim?: number;
}

/**
 * Tile shapes of the three kernels (see each WGSL file): WG threads, R query rows (forward, dq) or
 * keys (dk/dv) per thread, KT keys / QT queries streamed per workgroup-memory tile, KB / QB per
 * register block.
 */
export interface AttentionTiles {
  forward: { WG: number; R: number; KT: number; KB: number };
  dq: { WG: number; R: number; KT: number; KB: number };
  dkdv: { WG: number; R: number; QT: number; QB: number };
}

/**
 * Chosen on an H100 (Dawn/Vulkan) at B = 8, H = 16, L = 6921 and checked at 2307: forward 15.1 ms
 * (26 TFLOP/s counting causal FLOPs; 28 at L = 36000), backward 54 ms (dq 22 + dk/dv 32). Register
 * blocks (R × KB or R × QB) beyond 16 were several times slower there: the driver stops unrolling
 * the loops, and the register arrays they index go to local memory. Workgroup memory: 16.7 KB
 * (forward), 13.2 KB (dq), 17.4 KB (dk/dv).
 */
export const ATTENTION_TILES: AttentionTiles = {
  forward: { WG: 128, R: 2, KT: 64, KB: 8 },
  dq: { WG: 128, R: 2, KT: 32, KB: 8 },
  dkdv: { WG: 128, R: 1, QT: 32, QB: 8 },
};

interface Resolved {
  hd: number;
  /** The uniform block shared by all three kernels (strides in vec4s). */
  params: { u32: number[] };
  scale: number;
}

type FloatType = "f32" | "f16";

/** The kernels' type aliases: QKV_T from q (k and v must match), O_T from out; the rest must be f32. */
function attentionTypes(op: string, o: { q: Tensor; k: Tensor; v: Tensor; out: Tensor }, f32Only: Record<string, Tensor> = {}) {
  const bad = (name: string, t: Tensor, want: string) => new Error(`${op}: ${name} (${t.label}) is ${t.dtype}, expected ${want}`);
  if (o.q.dtype !== "f32" && o.q.dtype !== "f16") throw bad("q", o.q, "f32 or f16");
  for (const [name, t] of Object.entries({ k: o.k, v: o.v })) if (t.dtype !== o.q.dtype) throw bad(name, t, `${o.q.dtype} like q`);
  if (o.out.dtype !== "f32" && o.out.dtype !== "f16") throw bad("out", o.out, "f32 or f16");
  for (const [name, t] of Object.entries(f32Only)) if (t.dtype !== "f32") throw bad(name, t, "f32");
  return { QKV_T: o.q.dtype as FloatType, O_T: o.out.dtype as FloatType };
}

function resolve(s: AttentionShape, q: Tensor, k: Tensor): Resolved {
  const { B, H, Lq, Lk, qOffset } = s;
  const hd = s.headDim ?? 32;
  const qStride = s.qStride ?? H * hd;
  const kvStride = s.kvStride ?? H * hd;
  const kvCapacity = s.kvCapacity ?? Lk;
  const ok = [B, H, Lq, Lk, qOffset, hd].every((n) => Number.isInteger(n) && n >= 0) && B > 0 && H > 0 && Lq > 0 && Lk > 0;
  if (!ok) throw new Error(`attention: bad shape ${JSON.stringify(s)}`);
  if (hd % 4 !== 0 || qStride % 4 !== 0 || kvStride % 4 !== 0) throw new Error("attention: headDim and strides must be multiples of 4");
  if (qStride < H * hd || kvStride < H * hd || kvCapacity < Lk) throw new Error(`attention: strides or capacity too small for ${JSON.stringify(s)}`);
  if (B * H > 65535) throw new Error(`attention: B·H = ${B * H} exceeds 65535 workgroups`);
  const qNeed = ((B - 1) * Lq + Lq - 1) * qStride + H * hd;
  const kvNeed = ((B - 1) * kvCapacity + Lk - 1) * kvStride + H * hd;
  if (q.size < qNeed || k.size < kvNeed) throw new Error(`attention: q has ${q.size} (needs ${qNeed}), k has ${k.size} (needs ${kvNeed}) elements`);
  const v4 = (n: number) => n / 4;
  return {
    hd,
    params: { u32: [Lq, Lk, qOffset, H, v4(qStride), v4(kvStride), v4(Lq * qStride), v4(kvCapacity * kvStride)] },
    scale: 1 / Math.sqrt(hd),
  };
}

export interface AttentionForward {
  q: Tensor;
  k: Tensor;
  v: Tensor;
  /** Same layout as q. */
  out: Tensor;
  /** [B, H, Lq]. */
  lse: Tensor;
  /** The sizes and strides (the layouts are strided views a tensor shape does not describe). */
  shape: AttentionShape;
  tiles?: AttentionTiles;
  /** Run on these subgroup matrices (tests: emulated ones), or SIMT with null; default: see attentionMatrices. */
  matrices?: AttentionMatrices | null;
  label?: string;
}

/** Reads q, k, v; writes out and lse. */
export function attentionForward(r: Recorder, o: AttentionForward): void {
  const s = o.shape;
  const tiles = o.tiles ?? ATTENTION_TILES;
  const { hd, params, scale } = resolve(s, o.q, o.k);
  checkTensorSizes("attentionForward", { lse: [o.lse, s.B * s.H * s.Lq] });
  const types = attentionTypes("attentionForward", o, { lse: o.lse });
  const matrices = attentionMatrices(r.gpu, o.q, hd, o.matrices);
  const kernel = matrices ? attentionKernel(r.gpu, matrices, "forward", { hd, types }) : r.gpu.kernel({
    file: "attention.wgsl", entry: "forward",
    constants: { HD: hd, ...tiles.forward, SCALE_LOG2E: { f32: scale * Math.LOG2E } },
    types,
  });
  const grid: [number, number] = matrices ? attentionGrid(matrices, "forward", s) : [Math.ceil(s.Lq / (tiles.forward.WG * tiles.forward.R)), s.B * s.H];
  r.span(o.label ?? "attention", () => `forward Lq=${s.Lq} Lk=${s.Lk}${matrices ? " sgmat" : ""}`, () =>
    r.dispatch(kernel, [o.q, o.k, o.v, o.out, o.lse], grid, params));
}

export interface AttentionBackward extends AttentionForward {
  dOut: Tensor;
  /** Layout of q. */
  dq: Tensor;
  /** Layout of k. */
  dk: Tensor;
  dv: Tensor;
  /** [B, H, Lq]: rowsum(dOut ∘ out), kept between the two kernels. */
  delta: Tensor;
}

/**
 * Reads q, k, v, out, lse (from the forward) and dOut; writes dq, dk, dv and delta. Rows of dk/dv
 * that no query sees (past Lk) are left untouched.
 */
export function attentionBackward(r: Recorder, o: AttentionBackward): void {
  const s = o.shape;
  const tiles = o.tiles ?? ATTENTION_TILES;
  const { hd, params, scale } = resolve(s, o.q, o.k);
  const rows = s.B * s.H * s.Lq;
  checkTensorSizes("attentionBackward", { lse: [o.lse, rows], delta: [o.delta, rows] });
  const scales = { SCALE: { f32: scale }, SCALE_LOG2E: { f32: scale * Math.LOG2E } };
  const types = attentionTypes("attentionBackward", o, { lse: o.lse, dOut: o.dOut, dq: o.dq, dk: o.dk, dv: o.dv, delta: o.delta });
  const matrices = attentionMatrices(r.gpu, o.q, hd, o.matrices);
  const dkdvTypes = { QKV_T: types.QKV_T };
  const [dqKernel, dkdvKernel] = matrices
    ? [attentionKernel(r.gpu, matrices, "dq", { hd, types }), attentionKernel(r.gpu, matrices, "dkdv", { hd, types: dkdvTypes })]
    : [
      r.gpu.kernel({ file: "attention-backward-dq.wgsl", entry: "backward_dq", constants: { HD: hd, ...tiles.dq, ...scales }, types }),
      r.gpu.kernel({ file: "attention-backward-dkdv.wgsl", entry: "backward_dkdv", constants: { HD: hd, ...tiles.dkdv, ...scales }, types: dkdvTypes }),
    ];
  const dqGrid: [number, number] = matrices ? attentionGrid(matrices, "dq", s) : [Math.ceil(s.Lq / (tiles.dq.WG * tiles.dq.R)), s.B * s.H];
  const dkdvGrid: [number, number] = matrices ? attentionGrid(matrices, "dkdv", s) : [Math.ceil(s.Lk / (tiles.dkdv.WG * tiles.dkdv.R)), s.B * s.H];
  const label = o.label ?? "attention";
  const how = matrices ? " sgmat" : "";
  r.span(label, () => `backward dq Lq=${s.Lq}${how}`, () =>
    r.dispatch(dqKernel, [o.q, o.k, o.v, o.out, o.dOut, o.lse, o.delta, o.dq], dqGrid, params));
  r.span(label, () => `backward dk dv Lk=${s.Lk}${how}`, () =>
    r.dispatch(dkdvKernel, [o.q, o.k, o.v, o.dOut, o.lse, o.delta, o.dk, o.dv], dkdvGrid, params));
}
