/**
 * Kill tests (issue 14 item 4, 5): a tiny run is SIGKILLed at chosen points (inside a checkpoint's
 * files, between the folder rename and latest.json, …) through IFLAME_TEST_KILL_AT, resumed, and
 * compared with an uninterrupted run: latest.json always names a checkpoint that loads, no
 * complete checkpoint is lost, metrics hold one row per step, and the final weights are equal.
 * The runs share one folder, so the tests below run in order.
 */
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { cp, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { latestCheckpoint, loadTrainState } from "../src/checkpoint/checkpoint.ts";
import { decodeSafetensors } from "../src/interop/safetensors.ts";
import { parseTrainArgs } from "../src/train/options.ts";
import { train } from "../src/train/trainer.ts";

// Training runs and killed child runs (a Bun start and kernel compiles each) on lavapipe: about 3× its slowest test on an idle 2-core machine, at least 10 s (bunfig.toml says why).
setDefaultTimeout(240_000);

const ROOT = join(import.meta.dir, "..");
const scratch = mkdtempSync(join(tmpdir(), "iflame-kill-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The smallest network the kernels take, on 5 procedural meshes of at most 12 faces. */
const micro = join(scratch, "micro.json");
writeFileSync(micro, JSON.stringify({ name: "micro", dim: 32, heads: 1, blocksPerLevel: [1, 1, 2, 1, 1], fullPeriod: 2, vocab: 132, maxFaces: 12 }));
const argsFor = (steps: number) => ["--config", micro, "--meshes", "5", "--batch", "2", "--no-augment", "--quiet", "--steps", String(steps), "--save-every", "2", "--val-every", "3", "--seed", "3"];
const ARGS = argsFor(8);

const whole = join(scratch, "whole");
const killed = join(scratch, "killed");

/** `bun train.ts …` (`steps` in all) in a child that dies with SIGKILL at `killAt`. */
function trainUntilKilled(killAt: string, resume: boolean, steps = 8) {
  const p = Bun.spawnSync([process.execPath, join(ROOT, "train.ts"), ...argsFor(steps), "--out", killed, ...(resume ? ["--resume"] : [])], {
    cwd: ROOT, env: { ...process.env, IFLAME_TEST_KILL_AT: killAt }, stdout: "pipe", stderr: "pipe",
  });
  // The kill point must really be reached: a run that finished or failed proves nothing.
  expect(p.signalCode ?? `exit ${p.exitCode}: ${p.stderr.toString()}`).toBe("SIGKILL");
}

const stepDirs = (run: string) => readdirSync(join(run, "checkpoints")).filter((f) => f.startsWith("step-")).sort();

/** latest.json names a checkpoint whose three files all decode; returns its step. */
async function latestLoads(run: string): Promise<number> {
  const dir = (await latestCheckpoint(run))!;
  const state = await loadTrainState(dir);
  for (const f of ["model.safetensors", "optimizer.safetensors"]) decodeSafetensors(new Uint8Array(await Bun.file(join(dir, f)).arrayBuffer()), f);
  return state.step;
}

async function trainRows(run: string): Promise<{ kind: string; step: number; loss: number }[]> {
  return (await Bun.file(join(run, "metrics.jsonl")).text()).trim().split("\n").map((l) => JSON.parse(l));
}

test("uninterrupted reference run; killed half-way through step 4's model.safetensors", async () => {
  await train(parseTrainArgs([...ARGS, "--out", whole]), () => {});
  expect(stepDirs(whole)).toEqual(["step-00000006", "step-00000008"]);
  trainUntilKilled("model@4", false);
  expect(await latestLoads(killed)).toBe(2);
  expect(stepDirs(killed)).toEqual(["step-00000002"]); // the partial step 4 is not a step-* folder
  expect(readdirSync(join(killed, "checkpoints")).some((f) => f.startsWith(".partial-step-00000004"))).toBe(true);
}, 60_000);

test("resumed, then killed after step 6's folder is complete but before latest.json names it", async () => {
  trainUntilKilled("rename@6", true);
  expect(await latestLoads(killed)).toBe(4);
  expect(stepDirs(killed)).toEqual(["step-00000002", "step-00000004", "step-00000006"]);
  expect(readdirSync(join(killed, "checkpoints")).filter((f) => f.startsWith(".partial"))).toEqual([]); // the orphan was cleaned
}, 60_000);

test("resumed, then killed half-way through step 8's state.json", async () => {
  trainUntilKilled("state@8", true);
  expect(await latestLoads(killed)).toBe(6);
  expect(stepDirs(killed)).toEqual(["step-00000004", "step-00000006"]);
}, 60_000);

test("the last resume ignores and removes orphans, and ends where the uninterrupted run did", async () => {
  // Orphans older code left: a step folder holding only a temp file, newer than every real one, and a latest.json temp.
  await mkdir(join(killed, "checkpoints", "step-00000009"), { recursive: true });
  writeFileSync(join(killed, "checkpoints", "step-00000009", "model.safetensors.tmp-1-1"), "x");
  writeFileSync(join(killed, "latest.json.tmp-1-1"), "{");
  await train(parseTrainArgs([...ARGS, "--out", killed, "--resume"]), () => {});
  expect(stepDirs(killed)).toEqual(["step-00000006", "step-00000008"]);
  expect(existsSync(join(killed, "latest.json.tmp-1-1"))).toBe(false);
  expect(readdirSync(join(killed, "checkpoints")).filter((f) => f.startsWith(".partial"))).toEqual([]);
  expect(await latestLoads(killed)).toBe(8);

  const a = await trainRows(whole), b = await trainRows(killed);
  expect(b.map((m) => `${m.kind}${m.step}`)).toEqual(a.map((m) => `${m.kind}${m.step}`));
  expect(b.filter((m) => m.kind === "train").map((m) => m.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  expect(b.map((m) => m.loss)).toEqual(a.map((m) => m.loss));

  const weights = async (run: string) => decodeSafetensors(new Uint8Array(await Bun.file(join((await latestCheckpoint(run))!, "model.safetensors")).arrayBuffer())).tensors;
  const [wa, wb] = [await weights(whole), await weights(killed)];
  expect(Object.keys(wb)).toEqual(Object.keys(wa));
  for (const name of Object.keys(wa)) expect(Buffer.from(wb[name].data.buffer).equals(Buffer.from(wa[name].data.buffer))).toBe(true);
}, 60_000);

test("a resume with another network is refused naming the fields; torn pointers are named", async () => {
  const other = join(scratch, "other.json");
  writeFileSync(other, JSON.stringify({ name: "micro", dim: 32, heads: 1, blocksPerLevel: [1, 1, 2, 1, 1], fullPeriod: 1, vocab: 132, maxFaces: 16 }));
  const args = argsFor(10).map((a) => (a === micro ? other : a));
  await expect(train(parseTrainArgs([...args, "--out", killed, "--resume"]), () => {})).rejects.toThrow(
    /--resume: .*killed was trained with another network or sequence limit \(fullPeriod 2 → 1, maxFaces 12 → 16\)/,
  );
  expect(stepDirs(killed)).toEqual(["step-00000006", "step-00000008"]);

  const torn = join(scratch, "torn");
  await cp(killed, torn, { recursive: true });
  writeFileSync(join(torn, "latest.json"), '{"checkpoint": "check');
  await expect(latestCheckpoint(torn)).rejects.toThrow(/torn\/latest\.json: the latest-checkpoint pointer is not valid JSON \(21 bytes; truncated or edited\?\)/);
  writeFileSync(join(torn, "latest.json"), '{"checkpoint": "checkpoints/step-00000007"}');
  await expect(latestCheckpoint(torn)).rejects.toThrow(/torn\/latest\.json: names checkpoints\/step-00000007, which has no model\.safetensors/);
  writeFileSync(join(torn, "checkpoints", "step-00000008", "state.json"), '{"step": 8,');
  await expect(loadTrainState(join(torn, "checkpoints", "step-00000008"))).rejects.toThrow(/step-00000008\/state\.json: the training state is not valid JSON/);
});

test("extended to 10 steps: killed half-way through step 10's optimizer.safetensors, then after latest.json names step 10", async () => {
  trainUntilKilled("optimizer@10", true, 10);
  expect(await latestLoads(killed)).toBe(8);
  expect(stepDirs(killed)).toEqual(["step-00000006", "step-00000008"]);
  trainUntilKilled("latest@10", true, 10);
  expect(await latestLoads(killed)).toBe(10);
  expect(stepDirs(killed)).toEqual(["step-00000006", "step-00000008", "step-00000010"]); // killed before pruning
  await train(parseTrainArgs([...argsFor(10), "--out", killed, "--resume"]), () => {}); // nothing left to train: only cleans up
  expect(stepDirs(killed)).toEqual(["step-00000008", "step-00000010"]);
  const rows = (await trainRows(killed)).filter((m) => m.kind === "train");
  expect(rows.map((m) => m.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
}, 60_000);
