/**
 * The layer-wise kernels at the ShapeNet training sizes (B = 8, L = 6921 → rows = 55368, D = 512,
 * hidden 1365, V = 132): RMSNorm, SwiGLU gate, embedding, hourglass pool / upsample at the top
 * level (L ↔ L/3), cross-entropy and the residual add. All are memory-bound: `bytes` counts each
 * tensor read or written once (small weights and tables not counted), scratch partials included.
 */
import type { Gpu } from "../../src/gpu/runtime.ts";
import type { Tensor } from "../../src/gpu/tensor.ts";
import { uniform01 } from "../../src/cpu/rng.ts";
import { crossEntropy, crossEntropyScratchSize } from "../../src/kernels/cross-entropy.ts";
import { addInto } from "../../src/kernels/elementwise.ts";
import { embeddingBackward, embeddingForward, embeddingScratchSize } from "../../src/kernels/embedding.ts";
import {
  avgPool3Backward, avgPool3Forward, upsampleScratchSize, upsampleShiftAddBackward, upsampleShiftAddForward,
} from "../../src/kernels/hourglass.ts";
import { rmsnormBackward, rmsnormForward, rmsnormScratchSize } from "../../src/kernels/rmsnorm.ts";
import { swigluBackward, swigluForward } from "../../src/kernels/swiglu.ts";
import type { BenchCase } from "./common.ts";

const L = 6921, D = 512, HIDDEN = 1365, V = 132;
const Lc = L / 3;

/** B = 8 is the ShapeNet batch; smaller B fits a CPU driver's 128 MiB binding limit (smoke runs). */
export function benchCases(gpu: Gpu, B = 8): BenchCase[] {
  const ROWS = B * L;
  const owned: Tensor[] = [];
  /** A tensor of n values, filled with `pattern` repeated (cheap to make at 75 M values). */
  const make = (n: number, label: string, pattern?: Float32Array): Tensor => {
    const t = gpu.tensor([n], "f32", label);
    if (pattern) {
      const data = new Float32Array(n);
      for (let i = 0; i < n; i += pattern.length) data.set(pattern.subarray(0, Math.min(pattern.length, n - i)), i);
      gpu.write(t, data);
    }
    owned.push(t);
    return t;
  };
  const noise = (seed: number) => Float32Array.from({ length: 1 << 16 }, (_, i) => 2 * uniform01(seed, i) - 1);
  const constant = (v: number) => Float32Array.of(v);
  // Tensors shared by the cases (each case overwrites only its own outputs).
  const act = [0, 1, 2, 3].map((i) => make(ROWS * D, `act${i}`, noise(i)));
  const wide = [0, 1, 2, 3, 4].map((i) => make(ROWS * HIDDEN, `hidden${i}`, noise(10 + i)));
  const weight = make(D, "weight", constant(1));
  const rstd = make(ROWS, "rstd", constant(1));
  const dweight = make(D, "dweight");
  const rmsScratch = make(rmsnormScratchSize(ROWS, D), "rmsnorm scratch");
  const tokens = gpu.upload(Int32Array.from({ length: ROWS }, (_, i) => Math.floor(uniform01(99, i) * 129)), [ROWS], "tokens");
  owned.push(tokens);
  const table = make(V * D, "table", noise(20));
  const dtable = make(V * D, "dtable");
  const embScratch = make(embeddingScratchSize(ROWS, V, D), "embedding scratch");
  const coarse = [0, 1].map((i) => make(B * Lc * D, `coarse${i}`, noise(30 + i)));
  const skipWeights = make(2, "skip weights", constant(1));
  const dSkipWeights = make(2, "d skip weights");
  const upScratch = make(upsampleScratchSize(B, Lc, D), "upsample scratch");
  const logits = make(ROWS * V, "logits", noise(40));
  const dlogits = make(ROWS * V, "dlogits");
  const scale = make(1, "scale", constant(1 / ROWS));
  const stats = make(3, "stats");
  const ceScratch = make(crossEntropyScratchSize(B, L), "cross-entropy scratch");

  const f = 4; // bytes per value
  const nd = ROWS * D, nh = ROWS * HIDDEN, nc = B * Lc * D;
  const rmsPartials = rmsScratch.size, embPartials = embScratch.size;
  const rows = `rows=${ROWS} D=${D}`;
  const cases: BenchCase[] = [
    {
      name: "rmsnorm forward", shape: rows, flops: 0, bytes: f * (2 * nd + ROWS),
      record: (r) => rmsnormForward(r, { x: act[0], weight, y: act[1], rstd }),
    },
    {
      name: "rmsnorm backward (+ dweight, dx +=)", shape: rows, flops: 0, bytes: f * (4 * nd + ROWS + 2 * rmsPartials),
      record: (r) => rmsnormBackward(r, { x: act[0], weight, rstd, dy: act[1], dx: act[2], dweight, scratch: rmsScratch, accumulate: true, addToDx: true }),
    },
    {
      name: "swiglu forward", shape: `n=${ROWS}×${HIDDEN}`, flops: 0, bytes: f * 3 * nh,
      record: (r) => swigluForward(r, { a: wide[0], b: wide[1], h: wide[2] }),
    },
    {
      name: "swiglu backward", shape: `n=${ROWS}×${HIDDEN}`, flops: 0, bytes: f * 5 * nh,
      record: (r) => swigluBackward(r, { a: wide[0], b: wide[1], dh: wide[2], da: wide[3], db: wide[4] }),
    },
    {
      name: "embedding forward", shape: `n=${ROWS} V=${V} D=${D}`, flops: 0, bytes: f * (ROWS + nd),
      record: (r) => embeddingForward(r, { tokens, table: table.reshape([V, D]), out: act[0] }),
    },
    {
      name: "embedding backward", shape: `n=${ROWS} V=${V} D=${D}`, flops: 0, bytes: f * (ROWS + nd + 2 * embPartials),
      record: (r) => embeddingBackward(r, { tokens, dout: act[1], dtable: dtable.reshape([V, D]), scratch: embScratch, accumulate: true }),
    },
    {
      name: "avgpool3 forward", shape: `B=${B} L=${L} D=${D}`, flops: 0, bytes: f * (nd + nc),
      record: (r) => avgPool3Forward(r, { x: act[0].reshape([ROWS, D]), y: coarse[0], B }),
    },
    {
      name: "avgpool3 backward (accumulate)", shape: `B=${B} L=${L} D=${D}`, flops: 0, bytes: f * (nc + 2 * nd),
      record: (r) => avgPool3Backward(r, { dy: coarse[0], dx: act[1].reshape([ROWS, D]), B, accumulate: true }),
    },
    {
      name: "upsample3+shift2+skip forward", shape: `B=${B} Lc=${Lc} D=${D}`, flops: 0, bytes: f * (nc + 2 * nd),
      record: (r) => upsampleShiftAddForward(r, { x: coarse[0], skip: act[0].reshape([ROWS, D]), weights: skipWeights, index: 1, out: act[1], B }),
    },
    {
      name: "upsample3+shift2+skip backward", shape: `B=${B} Lc=${Lc} D=${D}`, flops: 0, bytes: f * (nd + 2 * nc),
      record: (r) => upsampleShiftAddBackward(r, {
        dout: act[0].reshape([ROWS, D]), x: coarse[0], weights: skipWeights, index: 1, dx: coarse[1], dweights: dSkipWeights, scratch: upScratch, B, accumulate: true,
      }),
    },
    {
      name: "cross-entropy (+ dlogits)", shape: `B=${B} L=${L} V=${V}, no pad`, flops: 0, bytes: f * (2 * ROWS * V + ROWS),
      record: (r) => crossEntropy(r, { logits: logits.reshape([ROWS, V]), tokens: tokens.reshape([B, L]), scale, dlogits, stats, scratch: ceScratch }),
    },
    {
      name: "residual add x += y", shape: rows, flops: 0, bytes: f * 3 * nd,
      record: (r) => addInto(r, { x: act[2], y: act[3] }),
    },
  ];
  cases[cases.length - 1].dispose = () => owned.forEach((t) => gpu.destroy(t));
  return cases;
}
