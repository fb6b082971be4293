/**
 * Attention benchmark cases at the ShapeNet sizes (B = 8, H = 16, head dim 32): causal forward and
 * backward at the three hourglass levels (L = 6921, 2307, 769), the forward at L = 36000 (B = 1),
 * and RoPE at level 0. FLOPs count the causal half only: forward 4·hd per (query, key) pair with
 * key ≤ query (q·k and p·v); backward 2.5× the forward, the usual convention (five products
 * against two), though the deterministic dq and dk/dv kernels recompute q·k and dout·v (seven).
 * The "f16" rows run level 0 with f16 q, k, v and out (mixed precision; statistics and gradients f32):
 * "f16 simt" on the SIMT kernels, "f16 sgmat" on subgroup matrices (tensor cores), where the
 * device has them (attention-matrices.ts; forced here, whatever IFLAME_TENSOR_CORES says).
 *   bun scripts/bench-kernels.ts attention
 */
import { type Gpu } from "../../src/gpu/runtime.ts";
import type { Tensor } from "../../src/gpu/tensor.ts";
import { attentionBackward, attentionForward, ATTENTION_TILES, type AttentionShape } from "../../src/kernels/attention.ts";
import { deviceAttentionMatrices, deviceAttentionProblem, type AttentionMatrices } from "../../src/kernels/attention-matrices.ts";
import { ropeForward, ropeTables } from "../../src/kernels/rope.ts";
import type { BenchCase } from "./common.ts";

const H = 16;
const HD = 32;

type Precision = "f32" | "f16";

function randomTensor(gpu: Gpu, shape: number[], label: string, dtype: Precision = "f32"): Tensor {
  const t = gpu.tensor(shape, dtype, label);
  const values = Array.from({ length: Math.min(t.size, 1 << 20) }, () => 2 * Math.random() - 1);
  const block = dtype === "f16" ? Float16Array.from(values) : Float32Array.from(values);
  for (let at = 0; at < t.size; at += block.length) gpu.write(t, block.subarray(0, Math.min(block.length, t.size - at)), at);
  return t;
}

/** q, k, v, out (of `precision`), dOut [B, L, H, 32], made on first use (random) and freed by dispose. */
function lazyTensors(gpu: Gpu, B: number, L: number, withGrads: boolean, precision: Precision = "f32") {
  let t: Record<string, Tensor> | null = null;
  return {
    get(): Record<string, Tensor> {
      if (t) return t;
      const x = [B, L, H, HD];
      t = {
        q: randomTensor(gpu, x, "q", precision), k: randomTensor(gpu, x, "k", precision), v: randomTensor(gpu, x, "v", precision),
        out: gpu.tensor(x, precision, "out"), lse: gpu.tensor([B, H, L], "f32", "lse"),
      };
      if (withGrads) {
        Object.assign(t, {
          dOut: randomTensor(gpu, x, "dOut"), dq: gpu.tensor(x, "f32", "dq"), dk: gpu.tensor(x, "f32", "dk"),
          dv: gpu.tensor(x, "f32", "dv"), delta: gpu.tensor([B, H, L], "f32", "delta"),
        });
      }
      return t;
    },
    dispose() {
      for (const x of Object.values(t ?? {})) gpu.destroy(x);
      t = null;
    },
  };
}

export function forwardFlops(B: number, L: number): number {
  return 4 * HD * B * H * ((L * (L + 1)) / 2);
}

/** `matrices`: the subgroup matrices to run on, or null for SIMT (f16 only). */
export function attentionCase(gpu: Gpu, B: number, L: number, backward: boolean, o: { tiles?: typeof ATTENTION_TILES; precision?: Precision; matrices?: AttentionMatrices | null } = {}): BenchCase {
  const { tiles = ATTENTION_TILES, precision = "f32", matrices } = o;
  const tensors = lazyTensors(gpu, B, L, backward, precision);
  const s: AttentionShape = { B, H, Lq: L, Lk: L, qOffset: 0 };
  const n = B * L * H * HD;
  let forwardDone = false;
  return {
    name: `${backward ? "attention backward (dq; dk, dv)" : "attention forward"}${precision === "f16" ? ` f16 ${matrices ? "sgmat" : "simt"}` : ""}`,
    shape: `B=${B} L=${L} H=${H} hd=${HD}`,
    flops: (backward ? 2.5 : 1) * forwardFlops(B, L),
    bytes: precision === "f16" ? (backward ? 2 * 4 * n + 4 * 4 * n : 2 * 4 * n) : 4 * (backward ? 8 * n : 4 * n),
    record(r) {
      const t = tensors.get();
      // the backward case runs the forward once (the harness's warm-up) for out and lse
      if (!backward || !forwardDone) attentionForward(r, { q: t.q, k: t.k, v: t.v, out: t.out, lse: t.lse, shape: s, tiles, matrices });
      forwardDone = true;
      if (backward) attentionBackward(r, { q: t.q, k: t.k, v: t.v, out: t.out, lse: t.lse, dOut: t.dOut, dq: t.dq, dk: t.dk, dv: t.dv, delta: t.delta, shape: s, tiles, matrices });
    },
    dispose() {
      tensors.dispose();
      forwardDone = false;
    },
  };
}

export function benchCases(gpu: Gpu): BenchCase[] {
  const cases: BenchCase[] = [];
  for (const L of [6921, 2307, 769]) cases.push(attentionCase(gpu, 8, L, false), attentionCase(gpu, 8, L, true));
  cases.push(attentionCase(gpu, 1, 36000, false));
  if (gpu.features.f16) {
    const matrices = deviceAttentionMatrices(gpu);
    for (const m of matrices ? [null, matrices] : [null]) {
      for (const backward of [false, true]) cases.push(attentionCase(gpu, 8, 6921, backward, { precision: "f16", matrices: m }));
    }
    if (!matrices) console.error(`attention: no f16 sgmat rows: ${deviceAttentionProblem(gpu) ?? `the device has no f16 × f16 → f32 subgroup matrices (${JSON.stringify(gpu.features.subgroupMatrix)})`}`);
  }
  const B = 8, L = 6921, n = B * L * H * HD;
  const rope = lazyTensors(gpu, B, L, false);
  cases.push({
    name: "rope forward", shape: `B=${B} L=${L} H=${H} hd=${HD}`, flops: 0, bytes: 4 * 2 * n,
    record(r) {
      const t = rope.get();
      ropeForward(r, { x: t.q, out: t.out, B, H, tables: ropeTables(gpu, L, HD) });
    },
    dispose: () => rope.dispose(),
  });
  return cases;
}
