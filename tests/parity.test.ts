import { expect, test } from "bun:test";

/**
 * Parity with our PyTorch port (scripts/parity) on the tiny config: one step's logits and
 * gradients, and a 20-step learning curve. CI installs Debian's python3-torch (1.13, CPU) for
 * them; a machine without a python3 that imports torch and numpy skips them with a printed reason.
 * The interpreter: IFLAME_PYTHON, else the first of python3 and /usr/bin/python3 that has torch
 * (a pyenv python3 earlier on PATH often lacks Debian's torch).
 */
const candidates = process.env.IFLAME_PYTHON ? [process.env.IFLAME_PYTHON] : ["python3", "/usr/bin/python3"];
const python = candidates.find((p) => Bun.spawnSync([p, "-c", "import torch, numpy"], { stdout: "ignore", stderr: "ignore" }).exitCode === 0);
if (!python) console.log(`parity tests skipped: none of ${candidates.join(", ")} can import torch and numpy (set IFLAME_PYTHON to one that can)`);

/** Runs a parity script and returns the JSON summary it prints last. */
function runScript(script: string, args: string[]): Record<string, any> {
  const run = Bun.spawnSync([process.execPath, script, ...args, "--python", python!], { stderr: "inherit" });
  const out = run.stdout.toString();
  if (run.exitCode !== 0) console.log(out);
  expect(run.exitCode).toBe(0);
  return JSON.parse(out.slice(out.lastIndexOf("\n{") + 1));
}

test.skipIf(!python)("tiny config: logits and gradients match PyTorch (≤ 1e-4 relative)", () => {
  const summary = runScript("scripts/parity/run-parity.ts", ["--config", "tiny", "--B", "2", "--L", "450", "--dir", `/tmp/iflame-parity-${process.pid}`]);
  expect(summary.loss.relError).toBeLessThan(1e-5);
  expect(summary.logitsMaxRelError).toBeLessThan(1e-4);
  expect(summary.gradsMaxRelError).toBeLessThan(1e-4);
}, 120_000);

test.skipIf(!python)("tiny config: 20 training steps take the same losses as the PyTorch trainer (≤ 1e-4 relative per step)", () => {
  const summary = runScript("scripts/parity/run-curve.ts", ["--config", "tiny", "--steps", "20", "--batch", "2", "--dir", `/tmp/iflame-curve-${process.pid}`]);
  expect(summary.perStep).toHaveLength(20);
  expect(summary.maxLossRelError).toBeLessThan(1e-4);
  expect(summary.maxGradNormRelError).toBeLessThan(1e-3);
  // The run learned something, so the curves compared are not flat.
  expect(summary.last.ours).toBeLessThan(summary.first.ours);
}, 600_000);
