/**
 * Data-parallel training throughput over MPI: the real trainer (src/train) at 1, 2, … ranks on
 * the procedural meshes (every sequence is padded to the config's full length, so the compute
 * per step is the real one), with the gradients in 25 MiB buckets summed during the backward
 * (overlap: a bucket's sum starts once the backward segment that finishes it has run), the same
 * buckets summed after the backward (pipelined with each other only), and one bucket after the
 * backward (no pipelining). Prints global and
 * per-rank tokens/s, the scaling efficiency against 1 rank, and the all-reduce share of a step.
 * Steps after the first two are timed (the first compiles pipelines).
 *   bun scripts/bench-data-parallel.ts [--config shapenet] [--batch 8] [--steps 6] [--ranks 1,2]
 * Each rank count runs as `mpiexec -n K bun scripts/bench-data-parallel.ts --worker …`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { parseScriptFlags } from "../src/cli/flags.ts";
import { mpiexecPath, openWorld } from "../src/distributed/world.ts";
import { loadModelConfig, sequenceLength } from "../src/model/config.ts";
import { parseTrainArgs } from "../src/train/options.ts";
import { train } from "../src/train/trainer.ts";

const flags = parseScriptFlags(
  "bench-data-parallel",
  z
    .object({
      config: z.string().default("shapenet").describe("model preset or JSON config"),
      batch: z.coerce.number().int().positive().default(8).describe("sequences per rank per step"),
      steps: z.coerce.number().int().min(3).default(6).describe("steps per run (the first two are not timed)"),
      ranks: z.string().default("1,2").describe("comma-separated rank counts"),
      bucketMb: z.coerce.number().positive().default(25).describe("bucket size of the pipelined mode (MiB)"),
      overlap: z.boolean().default(true).describe("internal: the worker's --overlap"),
      worker: z.boolean().default(false).describe("internal: one run under mpiexec, prints a JSON line"),
    })
    .strict(),
  process.argv.slice(2),
);

/** One bucket larger than any model: the whole gradient comes back before any of it is sent. */
const ONE_BUCKET_MB = 1 << 20;

interface RunResult {
  ranks: number;
  bucketMb: number;
  overlap: boolean;
  stepMs: number;
  allreduceMs: number;
  tokensPerSecond: number;
}

if (flags.worker) {
  const world = openWorld("auto");
  const out = mkdtempSync(join(tmpdir(), "iflame-bench-dp-"));
  const opts = parseTrainArgs([
    "--config", flags.config, "--batch", String(flags.batch), "--steps", String(flags.steps), "--meshes", String(2 * flags.steps * world.size * flags.batch + 8),
    "--bucket-mb", String(flags.bucketMb), flags.overlap ? "--overlap" : "--no-overlap", "--val-every", "1000000", "--save-every", "1000000", "--quiet", "--out", out,
  ]);
  const result = await world.guard(() => train(opts, () => {}, world));
  if (world.isRoot) {
    const timed = result.history.slice(2);
    const mean = (f: (m: (typeof timed)[number]) => number) => timed.reduce((s, m) => s + f(m), 0) / timed.length;
    const tokensPerStep = flags.batch * world.size * sequenceLength(await loadModelConfig(flags.config));
    const stepMs = mean((m) => (1000 * tokensPerStep) / m.tokensPerSecond);
    const r: RunResult = { ranks: world.size, bucketMb: flags.bucketMb, overlap: flags.overlap, stepMs, allreduceMs: mean((m) => m.allreduceMs ?? 0), tokensPerSecond: mean((m) => m.tokensPerSecond) };
    console.log(`RESULT ${JSON.stringify(r)}`);
    rmSync(out, { recursive: true, force: true });
  }
  world.finalize();
} else {
  const self = [process.execPath, import.meta.path, "--config", flags.config, "--batch", String(flags.batch), "--steps", String(flags.steps), "--worker"];
  const mpiexec = mpiexecPath();
  if (!mpiexec && flags.ranks !== "1") {
    console.error("bench-data-parallel: no mpiexec on PATH (apt-get install mpich, or source .gpu/prelude.sh after PACK_MPI=1 pack.sh)");
    process.exit(1);
  }
  const results: RunResult[] = [];
  for (const K of flags.ranks.split(",").map(Number)) {
    const modes = [
      { bucketMb: flags.bucketMb, overlap: true },
      { bucketMb: flags.bucketMb, overlap: false },
      { bucketMb: ONE_BUCKET_MB, overlap: false },
    ];
    for (const { bucketMb, overlap } of K === 1 ? modes.slice(0, 1) : modes) {
      const args = [...self, "--bucket-mb", String(bucketMb), overlap ? "--overlap" : "--no-overlap"];
      const cmd = K === 1 ? args : [mpiexec!, "-n", String(K), ...args];
      console.error(`$ ${cmd.join(" ")}`);
      const p = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "inherit" });
      const line = p.stdout.toString().split("\n").find((l) => l.startsWith("RESULT "));
      if (p.exitCode !== 0 || !line) {
        console.error(`bench-data-parallel: the ${K}-rank run failed (exit ${p.exitCode})`);
        process.exit(1);
      }
      results.push(JSON.parse(line.slice("RESULT ".length)));
    }
  }
  const base = results.find((r) => r.ranks === 1);
  console.log(`${flags.config}, batch ${flags.batch} per rank, sequence length fixed by the config; ${flags.steps - 2} timed steps each`);
  console.log("| ranks | gradient sums | step ms | tokens/s | tokens/s per rank | scaling efficiency | all-reduce ms | all-reduce share |\n|---|---|---|---|---|---|---|---|");
  for (const r of results) {
    const when = r.overlap ? "during the backward" : "after the backward";
    const buckets = r.ranks === 1 ? "—" : r.bucketMb >= ONE_BUCKET_MB ? `one bucket, ${when}` : `${r.bucketMb} MiB buckets, ${when}`;
    const efficiency = base ? `${((100 * r.tokensPerSecond) / (r.ranks * base.tokensPerSecond)).toFixed(1)}%` : "";
    console.log(
      `| ${r.ranks} | ${buckets} | ${r.stepMs.toFixed(1)} | ${Math.round(r.tokensPerSecond).toLocaleString("en-US")} | ` +
        `${Math.round(r.tokensPerSecond / r.ranks).toLocaleString("en-US")} | ${efficiency} | ${r.allreduceMs.toFixed(1)} | ${((100 * r.allreduceMs) / r.stepMs).toFixed(1)}% |`,
    );
  }
}
