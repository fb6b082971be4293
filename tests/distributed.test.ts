/**
 * Data-parallel training over MPI (MPICH's mpiexec, 2 ranks, each its own lavapipe device):
 * 2 ranks × batch 2 take the same steps as 1 process × batch 4; a resumed run may change the
 * rank count; a failing rank stops both ranks with its message.
 */
import { describe, expect, test } from "bun:test";
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dlopen } from "bun:ffi";
import { Batcher, type SequenceSource } from "../src/data/batcher.ts";
import { mpiexecPath } from "../src/distributed/world.ts";
import { TOKENS } from "../src/tokenizer/index.ts";

const CONFIG = join(import.meta.dir, "fixtures/micro-config.json");
const ROOT = join(import.meta.dir, "..");

function mpichPresent(): boolean {
  try {
    dlopen("libmpich.so.12", { MPI_Initialized: { args: ["ptr"], returns: "i32" } }).close();
    return mpiexecPath() !== null;
  } catch {
    return false;
  }
}
const skip = !mpichPresent();
if (skip) console.warn("tests/distributed.test.ts: skipped: no libmpich.so.12 or mpiexec (apt-get install mpich)");
/** OpenMPI is optional (Debian openmpi-bin, libopenmpi3): its launcher under its Debian name, so MPICH keeps `mpiexec`. */
const openMpiRun = Bun.which("mpirun.openmpi");

/** A launch environment without the variables of any enclosing MPI job. */
function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^(PMI_|MPI_|OMPI_|HYDRA_)/.test(k)) env[k] = v;
  return { ...env, ...extra };
}

async function run(cmd: string[], env = cleanEnv()): Promise<{ code: number; output: string; seconds: number }> {
  const started = performance.now();
  const p = Bun.spawn(cmd, { cwd: ROOT, env, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, output: out + err, seconds: (performance.now() - started) / 1000 };
}

const trainArgs = (out: string, batch: number, extra: string[] = []) => [
  "--config", CONFIG, "--meshes", "12", "--batch", String(batch), "--steps", "4", "--save-every", "2", "--val-every", "4", "--seed", "3", "--quiet", "--out", out, ...extra,
];
const mpiexec = (ranks: number, script: string, args: string[]) => [mpiexecPath()!, "-n", String(ranks), process.execPath, script, ...args];

function trainLosses(runDir: string): number[] {
  return readFileSync(join(runDir, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l)).filter((m) => m.kind === "train").map((m) => m.loss);
}
function expectClose(a: number[], b: number[]): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i]) / Math.abs(b[i])).toBeLessThan(1e-4);
}

test("K batcher shards at batch b yield the batches of one batcher at batch K·b, across epoch ends", () => {
  // Item i has (i % 5) + 1 faces, every token of it i (or its augmentation seed).
  const source: SequenceSource = {
    size: 23,
    faceCount: (i) => (i % 5) + 1,
    faceTokens: (i, seed) => new Int32Array(TOKENS.perFace * ((i % 5) + 1)).fill(seed === undefined ? i : seed % 128),
  };
  const options = { maxFaces: 5, seed: 4, augment: true };
  const whole = new Batcher(source, { ...options, batchSize: 6 });
  const shards = [0, 1, 2].map((index) => new Batcher(source, { ...options, batchSize: 2, shard: { index, count: 3 } }));
  expect(shards[0].batchesPerEpoch).toBe(whole.batchesPerEpoch);
  let cursor = { epoch: 0, position: 0 };
  for (let step = 0; step < 9; step++) {
    const expected = whole.next(cursor);
    const parts = shards.map((s) => s.next(cursor));
    expect(parts.map((p) => p.next)).toEqual([expected.next, expected.next, expected.next]);
    const joined: Int32Array = new Int32Array(expected.tokens.length);
    parts.forEach((p, r) => joined.set(p.tokens, (r * expected.tokens.length) / 3));
    expect(joined).toEqual(expected.tokens);
    cursor = expected.next;
  }
  expect(cursor.epoch).toBe(2); // 3 global batches an epoch: crossed two epoch ends
});

test("under mpiexec without a loadable MPI library, train stops with one line naming IFLAME_MPI_LIB and mpich", async () => {
  const r = await run([process.execPath, "train.ts", "--distributed", "mpi", "--quiet"], cleanEnv({ IFLAME_MPI_LIB: "/nonexistent/libmpi.so.12" }));
  expect(r.code).toBe(1);
  const lines = r.output.trim().split("\n");
  expect(lines.length).toBe(1);
  expect(lines[0]).toContain("IFLAME_MPI_LIB");
  expect(lines[0]).toContain("install the Debian package mpich");
}, 30_000); // a child Bun start: about 3× it on an idle 2-core machine (bunfig.toml says why)

describe.skipIf(skip)("data-parallel training over MPI", () => {
  test("the MPI binding: all-reduce (blocking and not), broadcast, JSON broadcast on 3 ranks", async () => {
    const r = await run(mpiexec(3, "tests/fixtures/mpi-collectives.ts", []));
    expect(r.output).not.toContain("rank 0/3:"); // no failure line
    expect(r.code).toBe(0);
    expect(r.output.match(/collectives ok/g)?.length).toBe(3);
  }, 60_000);

  test.skipIf(!openMpiRun)("the same binding over OpenMPI (mpirun.openmpi, 2 ranks)", async () => {
    const r = await run([openMpiRun!, "--allow-run-as-root", "--oversubscribe", "-n", "2", process.execPath, "tests/fixtures/mpi-collectives.ts"]);
    expect({ code: r.code, output: r.output }).toMatchObject({ code: 0 }); // the output, if not
    expect(r.output.match(/collectives ok/g)?.length).toBe(2);
  }, 60_000);

  const tmp = (name: string) => mkdtempSync(join(tmpdir(), `iflame-mpi-${name}-`));
  const single = tmp("single");
  let singleDone: Promise<{ code: number; output: string }> | null = null;
  const singleRun = () => (singleDone ??= run([process.execPath, "train.ts", ...trainArgs(single, 4)]));

  // 16 KiB buckets: the micro model's gradients fill ~25 of them, spread over every backward
  // segment, so with overlap most sums start while later segments are still queued.
  for (const overlap of [true, false]) {
    test(`2 ranks × batch 2 take the steps of 1 process × batch 4, ${overlap ? "summing during" : "summing after"} the backward (per-step losses within 1e-4 relative)`, async () => {
      const pair = tmp("pair");
      const args = trainArgs(pair, 2, ["--bucket-mb", "0.015625", ...(overlap ? [] : ["--no-overlap"])]);
      const [one, two] = await Promise.all([singleRun(), run(mpiexec(2, "train.ts", args))]);
      expect(one.code).toBe(0);
      expect({ code: two.code, output: two.output }).toMatchObject({ code: 0 }); // the output, if not
      expect(two.output).toMatch(new RegExp(`per rank × 2 ranks = global batch 4 · \\d\\d gradient buckets${overlap ? " summed during the backward" : " ·"}`));
      // Rank 0 alone reports and writes.
      expect(two.output.match(/^done:/gm)?.length).toBe(1);
      expectClose(trainLosses(pair), trainLosses(single));
    }, 110_000);
  }

  test("a single-process run resumed under mpiexec with 2 ranks continues its loss curve", async () => {
    expect((await singleRun()).code).toBe(0);
    const resumed = tmp("resumed");
    cpSync(single, resumed, { recursive: true });
    writeFileSync(join(resumed, "latest.json"), JSON.stringify({ checkpoint: "checkpoints/step-00000002", step: 2 }));
    const lines = readFileSync(join(resumed, "metrics.jsonl"), "utf8").trim().split("\n").filter((l) => JSON.parse(l).step <= 2);
    writeFileSync(join(resumed, "metrics.jsonl"), `${lines.join("\n")}\n`);
    const r = await run(mpiexec(2, "train.ts", trainArgs(resumed, 2, ["--resume"])));
    expect(r.code).toBe(0);
    expect(r.output).toContain("resumed from");
    expectClose(trainLosses(resumed), trainLosses(single));
  }, 110_000);

  test("a rank that fails mid-run stops both ranks within 10 s, with its message", async () => {
    const stamp = join(tmp("fail"), "failed-at");
    const r = await run(mpiexec(2, "tests/fixtures/train-failing-rank.ts", trainArgs(tmp("failing"), 2)), cleanEnv({ FAIL_RANK: "1", FAIL_AT_BACKWARD: "2", FAIL_STAMP: stamp }));
    const stoppedAfter = (Date.now() - Number(readFileSync(stamp, "utf8"))) / 1000;
    expect(r.code).not.toBe(0);
    expect(r.output).toContain("rank 1/2: injected failure in backward pass 2");
    expect(stoppedAfter).toBeLessThan(10);
  }, 110_000);
});
