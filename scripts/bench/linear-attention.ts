/**
 * Decayed linear attention benchmark cases at the ShapeNet sizes (B = 8, H = 16, head dim 32):
 * forward and backward at the three hourglass levels (L = 6921, 2307, 769), and the decoding step
 * at B = 1 and B = 32. Bytes are what the op must move at least: forward q, k, v read + o written
 * (4 · B·L·512 floats), backward q, k, v, dO read + dq, dk, dv written (7 ·); a step reads and
 * writes its states and moves one row of q, k, v, o. FLOPs are those of the chunked recurrence as
 * implemented: 32² multiply-adds per row and head for each state pass and 2·32² for each emitting
 * pass (forward one of each, backward two and three); the rows on subgroup matrices (tensor cores,
 * "matrices": f16 operands, f32 state; where the device has them) count the same FLOPs, so their
 * TFLOP/s compare as speed-ups, at the default chunk and, at L = 6921, at 32 and 64 rows.
 *   bun scripts/bench-kernels.ts linear-attention
 */
import { type Gpu } from "../../src/gpu/runtime.ts";
import type { Tensor } from "../../src/gpu/tensor.ts";
import {
  linearAttentionBackward, linearAttentionChunk, linearAttentionForward, linearAttentionScratch, linearAttentionStep,
} from "../../src/kernels/linear-attention.ts";
import { recurrenceMatrices, type RecurrenceMatrices } from "../../src/kernels/linear-attention-matrices.ts";
import type { BenchCase } from "./common.ts";

const H = 16;
const HD = 32;

function randomTensor(gpu: Gpu, shape: number[], label: string, scale = 0.3): Tensor {
  const t = gpu.tensor(shape, "f32", label);
  const block = Float32Array.from({ length: Math.min(t.size, 1 << 20) }, () => scale * (2 * Math.random() - 1));
  for (let at = 0; at < t.size; at += block.length) gpu.write(t, block.subarray(0, Math.min(block.length, t.size - at)), at);
  return t;
}

/** Tensors made on first use and freed by dispose. */
function lazy<T>(make: () => T, free: (t: T) => void) {
  let t: T | null = null;
  return {
    get: () => (t ??= make()),
    dispose() {
      if (t) free(t);
      t = null;
    },
  };
}

/** One case; `matrices` null runs the SIMT recurrence whatever IFLAME_TENSOR_CORES says. */
export function linearAttentionCase(
  gpu: Gpu, B: number, L: number, backward: boolean, chunk = linearAttentionChunk(B, L, H), matrices: RecurrenceMatrices | null = null,
): BenchCase {
  const s = { B, L, H, chunk };
  const n = B * L * H * HD;
  const x = [B, L, H, HD];
  const tensors = lazy(
    () => ({
      q: randomTensor(gpu, x, "q"), k: randomTensor(gpu, x, "k"), v: randomTensor(gpu, x, "v"), o: gpu.tensor(x, "f32", "o"),
      dO: randomTensor(gpu, x, "dO"), dq: gpu.tensor(x, "f32", "dq"), dk: gpu.tensor(x, "f32", "dk"), dv: gpu.tensor(x, "f32", "dv"),
      scratch: linearAttentionScratch(gpu, s),
    }),
    ({ scratch, ...rows }) => [...Object.values(rows), scratch.states, scratch.final].forEach((t) => gpu.destroy(t)),
  );
  return {
    name: `linear attention ${backward ? "backward" : "forward"}${matrices ? " matrices" : ""}`,
    shape: `B=${B} L=${L} H=${H} hd=${HD} chunk=${chunk}`,
    flops: 2 * HD * HD * B * L * H * (backward ? 8 : 3),
    bytes: 4 * n * (backward ? 7 : 4),
    record(r) {
      const t = tensors.get();
      if (backward) linearAttentionBackward(r, { q: t.q, k: t.k, v: t.v, dOut: t.dO, dq: t.dq, dk: t.dk, dv: t.dv, scratch: t.scratch, shape: s, matrices });
      else linearAttentionForward(r, { q: t.q, k: t.k, v: t.v, out: t.o, scratch: t.scratch, shape: s, matrices });
    },
    dispose: () => tensors.dispose(),
  };
}

export function linearAttentionStepCase(gpu: Gpu, B: number): BenchCase {
  const tensors = lazy(
    () => ({
      q: randomTensor(gpu, [B, H, HD], "q"), k: randomTensor(gpu, [B, H, HD], "k"), v: randomTensor(gpu, [B, H, HD], "v"),
      o: gpu.tensor([B, H, HD], "f32", "o"), state: randomTensor(gpu, [B, H, HD, HD], "state", 0.01),
    }),
    (t) => Object.values(t).forEach((x) => gpu.destroy(x)),
  );
  return {
    name: "linear attention step",
    shape: `B=${B} H=${H} hd=${HD}`,
    flops: 2 * 2 * HD * HD * B * H,
    bytes: 4 * B * H * (2 * HD * HD + 4 * HD),
    record(r) {
      const t = tensors.get();
      linearAttentionStep(r, { q: t.q, k: t.k, v: t.v, state: t.state, out: t.o });
    },
    dispose: () => tensors.dispose(),
  };
}

export function benchCases(gpu: Gpu): BenchCase[] {
  const { matrices, problem } = recurrenceMatrices(gpu);
  if (!matrices) console.error(`linear-attention: no rows on subgroup matrices: ${problem}`);
  const cases: BenchCase[] = [];
  for (const L of [6921, 2307, 769]) {
    for (const backward of [false, true]) {
      cases.push(linearAttentionCase(gpu, 8, L, backward));
      if (!matrices) continue;
      const chunks = L === 6921 ? [linearAttentionChunk(8, L, H), 64, 32] : [linearAttentionChunk(8, L, H)];
      for (const chunk of new Set(chunks)) cases.push(linearAttentionCase(gpu, 8, L, backward, chunk, matrices));
    }
  }
  cases.push(linearAttentionStepCase(gpu, 1), linearAttentionStepCase(gpu, 32));
  return cases;
}
