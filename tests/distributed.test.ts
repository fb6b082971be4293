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
import { mpiexecPath } from "../src/distributed/world.ts";

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

describe.skipIf(skip)("data-parallel training over MPI", () => {
  const tmp = (name: string) => mkdtempSync(join(tmpdir(), `iflame-mpi-${name}-`));
  const single = tmp("single");
  let singleDone: Promise<{ code: number; output: string }> | null = null;
  const singleRun = () => (singleDone ??= run([process.execPath, "train.ts", ...trainArgs(single, 4)]));

  test("2 ranks × batch 2 take the steps of 1 process × batch 4 (per-step losses within 1e-4 relative)", async () => {
    const pair = tmp("pair");
    const [one, two] = await Promise.all([singleRun(), run(mpiexec(2, "train.ts", trainArgs(pair, 2)))]);
    expect(one.code).toBe(0);
    expect(two.code).toBe(0);
    expect(two.output).toContain("per rank × 2 ranks = global batch 4");
    // Rank 0 alone reports and writes.
    expect(two.output.match(/^done:/gm)?.length).toBe(1);
    expectClose(trainLosses(pair), trainLosses(single));
  }, 110_000);

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
