/**
 * Decayed linear attention ("lightning attention", SPEC §2; wgsl/linear-attention.wgsl, reference
 * src/cpu/linear-attention.ts): per head h with slope s_h (ALiBi slopes),
 *   o_t = Σ_{u≤t} exp(−s_h (t−u)) (q_t·k_u) v_u      (no softmax, scale or normaliser),
 * computed chunk-parallel: chunk states, a scan over chunks, then the outputs (see the WGSL header).
 * The chunk-state and emitting passes run in SIMT f32 (wgsl/linear-attention.wgsl) or, for calls
 * with `precision: "f16"` (mixed-precision models), on subgroup matrices (linear-attention-
 * matrices.ts: f16 operands, rounded from these f32 rows as they are staged, with f32 sums and
 * state) where the device has them and the tensor-core policy picks them (tensor-cores.ts;
 * unmeasured, so only under IFLAME_TENSOR_CORES=force); the `matrices` option overrides the choice
 * (tests, benchmarks). Every entry keeps its semantics either way. Decoding steps stay SIMT.
 *
 * Layouts: q, k, v, out, dOut, dq, dk, dv [B, L, H, 32] contiguous (RoPE already applied to q, k);
 * a recurrent state [B, H, 32, 32] with S[b,h][d][e] (key dim d, value dim e), as the CPU
 * reference. Outputs must not share memory with inputs. The scratch holds one 32×32 state per
 * chunk ([B, H, ceil(L / chunk), 32, 32]; 4 KiB per chunk and head) and the state after the last
 * row; it serves any call with the same B, H, chunk and at most its L.
 */
import { grid1d, type Gpu, type Recorder } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { alibiSlopes } from "../model/tables.ts";
import { MATRICES_MEASURED_FASTER, recurrenceKernel, recurrenceMatrices, type RecurrenceMatrices } from "./linear-attention-matrices.ts";
import { useTensorCores } from "./tensor-cores.ts";

const HD = 32;

/**
 * Rows per chunk when the shape names none: longer chunks move fewer states (4 KiB per chunk,
 * moved four times), but every chunk is one group of 32 threads, so the chunk stays short enough
 * to leave at least MIN_GROUPS of them (about 8 per SM on an H100). On an H200, B=8 H=16 this
 * picks 128 rows at L = 6921 and 2307, 64 at L = 769, the fastest of 32/64/128 measured there.
 */
export function linearAttentionChunk(B: number, L: number, H: number): number {
  const MIN_GROUPS = 1024;
  for (const chunk of [128, 64]) if (B * H * Math.ceil(L / chunk) >= MIN_GROUPS) return chunk;
  return 32;
}

/**
 * Groups of 32 threads per workgroup (each its own chunk) and rows staged at a time (4, 8 or 16):
 * on an H200 one group per workgroup and 4-row tiles were fastest (fewer registers, more groups).
 */
export const LINEAR_ATTENTION_TILES = { WARPS: 1, TILE: 4 };

export interface LinearAttentionShape {
  B: number;
  L: number;
  H: number;
  /** Rows per chunk (default: the scratch's, and linearAttentionChunk(B, L, H) for a new scratch). */
  chunk?: number;
}

export interface LinearAttentionScratch {
  /** One state per chunk: [B·H, chunks, 32, 32]. */
  states: Tensor;
  /** The state after the last row of the latest scan (forward: S_{L−1}): [B, H, 32, 32]. */
  final: Tensor;
  B: number;
  H: number;
  chunk: number;
  chunks: number;
}

/** The ALiBi slopes s_h, as the reference (stored f32). */
export function decaySlopes(H: number): Float32Array {
  return alibiSlopes(H);
}

const slopeTensors = new WeakMap<Gpu, Map<number, Tensor>>();
function slopesOf(gpu: Gpu, H: number): Tensor {
  let perGpu = slopeTensors.get(gpu);
  if (!perGpu) slopeTensors.set(gpu, (perGpu = new Map()));
  let t = perGpu.get(H);
  if (!t) perGpu.set(H, (t = gpu.upload(decaySlopes(H), [H], `decay slopes H=${H}`)));
  return t;
}

/** Bound where a variant reads or writes nothing. */
const placeholders = new WeakMap<Gpu, Tensor>();
function placeholder(gpu: Gpu): Tensor {
  let t = placeholders.get(gpu);
  if (!t) placeholders.set(gpu, (t = gpu.tensor([4], "f32", "linear attention placeholder")));
  return t;
}

function chunksOf(L: number, chunk: number): number {
  return Math.ceil(L / chunk);
}

export function linearAttentionScratch(gpu: Gpu, s: LinearAttentionShape): LinearAttentionScratch {
  const chunk = s.chunk ?? linearAttentionChunk(s.B, s.L, s.H);
  const chunks = chunksOf(s.L, chunk);
  return {
    states: gpu.tensor([s.B * s.H, chunks, HD, HD], "f32", "linear attention chunk states"),
    final: gpu.tensor([s.B, s.H, HD, HD], "f32", "linear attention final state"),
    B: s.B, H: s.H, chunk, chunks,
  };
}

/** Variant flags of the WGSL (a uniform bit set). */
const EMIT = 1, REVERSE = 2, TRANSPOSED = 4, FROM_STATE = 8, WRITE_STATE = 16;

function kernel(gpu: Gpu, entry: "recurrence" | "scan") {
  return gpu.kernel({ file: "linear-attention.wgsl", entry, constants: LINEAR_ATTENTION_TILES });
}

/** How a call's products may run (every entry's options but the decoding step's). */
export interface RecurrenceChoice {
  /** "f16": the products may round q, k, v, dO to f16 (mixed-precision models); default "f32" (SIMT). */
  precision?: "f32" | "f16";
  /** Overrides the choice: these matrices (tests: the emulated spelling), or SIMT with null. */
  matrices?: RecurrenceMatrices | null;
}

/** The matrices a call runs on (null: SIMT); see RecurrenceChoice and the module comment. */
function pickMatrices(gpu: Gpu, o: RecurrenceChoice): RecurrenceMatrices | null {
  if (o.matrices !== undefined) return o.matrices;
  if (o.precision !== "f16" || !useTensorCores({ measuredFaster: MATRICES_MEASURED_FASTER })) return null;
  return recurrenceMatrices(gpu).matrices;
}

interface Geometry {
  B: number;
  L: number;
  H: number;
  chunk: number;
  chunks: number;
}

/**
 * M_t = λ M_{t∓1} + a_tᵀ b_t over every chunk of every (batch, head), out_t = x_t M_t when
 * emitting; `state` gives the starting states (FROM_STATE) and/or receives the last (WRITE_STATE).
 * On matrices one workgroup owns a chunk; in SIMT, a group of 32 threads.
 */
function recurrence(
  r: Recorder, x: Tensor, a: Tensor, b: Tensor, state: Tensor, out: Tensor, g: Geometry, flags: number, matrices: RecurrenceMatrices | null,
): void {
  const items = g.B * g.H * g.chunks;
  const { workgroups, row } = grid1d(items, matrices ? 1 : LINEAR_ATTENTION_TILES.WARPS);
  const k = matrices ? recurrenceKernel(r.gpu, matrices) : kernel(r.gpu, "recurrence");
  r.dispatch(k, [x, a, b, slopesOf(r.gpu, g.H), state, out], workgroups, {
    u32: [g.L, g.H, g.chunk, g.chunks, items, row, flags],
  });
}

/** Replaces each chunk's own state by the state entering it; the state after the last goes to `final`. */
function scan(r: Recorder, states: Tensor, final: Tensor, g: Geometry, reverse: boolean): void {
  const items = g.B * g.H * HD * HD;
  const { workgroups, row } = grid1d(items, 256);
  const slopes = slopesOf(r.gpu, g.H);
  r.dispatch(kernel(r.gpu, "scan"), [slopes, states, final], workgroups, {
    u32: [g.L, g.H, g.chunk, g.chunks, items, row, reverse ? REVERSE : 0],
  });
}

function checkRows(s: LinearAttentionShape, tensors: Record<string, Tensor>): void {
  const ok = [s.B, s.L, s.H].every((n) => Number.isInteger(n) && n > 0);
  if (!ok) throw new Error(`linear attention: bad shape ${JSON.stringify(s)}`);
  const n = s.B * s.L * s.H * HD;
  for (const [name, t] of Object.entries(tensors)) {
    if (t.size < n) throw new Error(`linear attention: ${name} has ${t.size} elements; [${s.B},${s.L},${s.H},${HD}] needs ${n}`);
  }
}

function geometry(s: LinearAttentionShape, scratch: LinearAttentionScratch): Geometry {
  const chunk = s.chunk ?? scratch.chunk;
  const chunks = chunksOf(s.L, chunk);
  if (scratch.B !== s.B || scratch.H !== s.H || scratch.chunk !== chunk || scratch.chunks < chunks) {
    throw new Error(`linear attention: scratch for B=${scratch.B} H=${scratch.H} chunk=${scratch.chunk} × ${scratch.chunks} does not fit ${JSON.stringify(s)}`);
  }
  return { B: s.B, L: s.L, H: s.H, chunk, chunks };
}

/** Chunk states of M = Σ λ^{|t−u|} aᵀb, scanned: the state entering each chunk. */
function enteringStates(
  r: Recorder, a: Tensor, b: Tensor, scratch: LinearAttentionScratch, g: Geometry, reverse: boolean, matrices: RecurrenceMatrices | null,
): void {
  recurrence(r, a, a, b, scratch.states, placeholder(r.gpu), g, WRITE_STATE | (reverse ? REVERSE : 0), matrices);
  scan(r, scratch.states, scratch.final, g, reverse);
}

export interface LinearAttentionForward extends RecurrenceChoice {
  q: Tensor;
  k: Tensor;
  v: Tensor;
  out: Tensor;
  scratch: LinearAttentionScratch;
  shape: LinearAttentionShape;
  label?: string;
}

/** Reads q, k, v; writes out; scratch.final receives the state after the last row. */
export function linearAttentionForward(r: Recorder, o: LinearAttentionForward): void {
  const { q, k, v, out, scratch, shape: s } = o;
  checkRows(s, { q, k, v, out });
  const g = geometry(s, scratch);
  const m = pickMatrices(r.gpu, o);
  r.span(o.label ?? "linear attention", () => `forward B=${s.B} L=${s.L} H=${s.H}${m ? " matrices" : ""}`, () => {
    enteringStates(r, k, v, scratch, g, false, m);
    recurrence(r, q, k, v, scratch.states, out, g, EMIT | FROM_STATE, m);
  });
}

export interface LinearAttentionBackward extends RecurrenceChoice {
  q: Tensor;
  k: Tensor;
  v: Tensor;
  dOut: Tensor;
  dq: Tensor;
  dk: Tensor;
  dv: Tensor;
  scratch: LinearAttentionScratch;
  shape: LinearAttentionShape;
  label?: string;
}

/**
 * Reads q, k, v, dOut; writes dq, dk, dv (overwritten, not accumulated). Deterministic:
 *   dq_t = dO_t S_tᵀ with S_t = Σ_{u≤t} λ^{t−u} k_uᵀv_u,
 *   dk_u = v_u G_uᵀ, dv_u = k_u G_u with G_u = Σ_{t≥u} λ^{t−u} q_tᵀdO_t (one scan serves both).
 */
export function linearAttentionBackward(r: Recorder, o: LinearAttentionBackward): void {
  const { q, k, v, dOut, dq, dk, dv, scratch, shape: s } = o;
  checkRows(s, { q, k, v, dOut, dq, dk, dv });
  const g = geometry(s, scratch);
  const m = pickMatrices(r.gpu, o);
  r.span(o.label ?? "linear attention", () => `backward B=${s.B} L=${s.L} H=${s.H}${m ? " matrices" : ""}`, () => {
    enteringStates(r, v, k, scratch, g, false, m);
    recurrence(r, dOut, v, k, scratch.states, dq, g, EMIT | FROM_STATE, m);
    enteringStates(r, q, dOut, scratch, g, true, m);
    recurrence(r, k, q, dOut, scratch.states, dv, g, EMIT | FROM_STATE | REVERSE, m);
    recurrence(r, v, dOut, q, scratch.states, dk, g, EMIT | FROM_STATE | REVERSE | TRANSPOSED, m);
  });
}

export interface LinearAttentionFinalState extends RecurrenceChoice {
  k: Tensor;
  v: Tensor;
  /** [B, H, 32, 32]. */
  state: Tensor;
  shape: LinearAttentionShape;
  /** With a scratch the chunks run in parallel; without one, one sequential pass per (batch, head). */
  scratch?: LinearAttentionScratch;
  label?: string;
}

/**
 * Writes `state` = S after the last of L rows of k, v (from S = 0): the prefill of cached
 * generation (fine without a scratch for prompts of hundreds of rows).
 */
export function linearAttentionFinalState(r: Recorder, o: LinearAttentionFinalState): void {
  const { k, v, state, shape: s, scratch } = o;
  checkRows(s, { k, v });
  if (state.size < s.B * s.H * HD * HD) throw new Error(`linear attention: state has ${state.size} elements, needs [${s.B},${s.H},${HD},${HD}]`);
  const m = pickMatrices(r.gpu, o);
  r.span(o.label ?? "linear attention", () => `final state B=${s.B} L=${s.L} H=${s.H}${m ? " matrices" : ""}`, () => {
    if (scratch) {
      const g = geometry(s, scratch);
      recurrence(r, k, k, v, scratch.states, placeholder(r.gpu), g, WRITE_STATE, m);
      scan(r, scratch.states, state, g, false);
    } else {
      recurrence(r, k, k, v, state, placeholder(r.gpu), { B: s.B, L: s.L, H: s.H, chunk: s.L, chunks: 1 }, WRITE_STATE, m);
    }
  });
}

/**
 * One decoding step per (batch, head): S ← λ S + kᵀv, out = q S. q, k, v, out [B, H, 32] (one
 * row of [B, 1, H, 32]); `state` [B, H, 32, 32] (its shape gives B and H) is read and updated in place.
 */
export function linearAttentionStep(r: Recorder, o: { q: Tensor; k: Tensor; v: Tensor; state: Tensor; out: Tensor; label?: string }): void {
  const { q, k, v, state, out } = o;
  if (state.shape.length !== 4 || state.shape[2] !== HD || state.shape[3] !== HD) throw new Error(`linear attention step: state has shape [${state.shape}], not [B, H, ${HD}, ${HD}]`);
  const [B, H] = state.shape;
  checkRows({ B, L: 1, H }, { q, k, v, out });
  r.span(o.label ?? "linear attention", () => `step B=${B} H=${H}`, () =>
    recurrence(r, q, k, v, state, out, { B, L: 1, H, chunk: 1, chunks: 1 }, EMIT | FROM_STATE | WRITE_STATE, null));
}
