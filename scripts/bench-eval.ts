/**
 * `iflame eval`'s cost at N generated + N reference meshes: the GPU Chamfer distances of all
 * (2N)² ordered pairs of clouds (what eval computes, for MMD, COV and 1-NNA), then the metrics
 * and the JSD occupancy grid on the CPU. Clouds are random points in the unit cube: the brute
 * force costs the same whatever the shapes.
 *   bun scripts/bench-eval.ts [--n 1000] [--points 2048]      (or: iflame bench eval -- --n 1000)
 */
import { z } from "zod";
import { parseScriptFlags } from "../src/cli/flags.ts";
import { randomUniform } from "../src/util/rng.ts";
import { pairwiseChamfer } from "../src/eval/chamfer.ts";
import { jsdBetweenSets } from "../src/eval/jsd.ts";
import { mmdCov, oneNearestNeighbourAccuracy } from "../src/eval/metrics.ts";
import { Gpu } from "../src/gpu/runtime.ts";
import { chamferWorkgroup } from "../src/kernels/chamfer.ts";

const flags = parseScriptFlags("bench-eval", z.object({
  n: z.coerce.number().int().positive().default(1000).describe("meshes per set (generated and reference)"),
  points: z.coerce.number().int().positive().default(2048).describe("points per cloud"),
}).strict(), process.argv.slice(2));

const { n, points } = flags;
const gpu = Gpu.get();
console.log(gpu.describe());
const clouds = Array.from({ length: 2 * n }, (_, i) => Float32Array.from(randomUniform(3 * points, i, 0.5)));
const seconds = (start: number) => (performance.now() - start) / 1000;

pairwiseChamfer(gpu, clouds.slice(0, 2), points); // compile the kernel outside the timing
let start = performance.now();
let last = start;
const distances = pairwiseChamfer(gpu, clouds, points, ({ rowsDone, rows }) => {
  if (performance.now() - last > 5000) {
    last = performance.now();
    console.error(`  ${rowsDone}/${rows} rows, ${seconds(start).toFixed(1)} s`);
  }
});
const chamfer = seconds(start);
const pairs = (2 * n) ** 2;
const distancesPerSecond = (pairs * points * points) / chamfer;

start = performance.now();
const union = { data: distances, references: n, generated: n };
mmdCov(union);
oneNearestNeighbourAccuracy(union);
const metrics = seconds(start);
start = performance.now();
jsdBetweenSets(clouds.slice(n), clouds.slice(0, n));
const jsd = seconds(start);

const { WG, PER_THREAD } = chamferWorkgroup(points);
console.log(`${n} + ${n} clouds of ${points} points (workgroup ${WG} threads × ${PER_THREAD} points)`);
console.log(`  pairwise Chamfer (GPU)   ${chamfer.toFixed(3)} s   ${pairs} ordered pairs, ${(distancesPerSecond / 1e9).toFixed(1)} G point distances/s`);
console.log(`  MMD, COV, 1-NNA (CPU)    ${metrics.toFixed(3)} s`);
console.log(`  JSD 28³ grid (CPU)       ${jsd.toFixed(3)} s`);
