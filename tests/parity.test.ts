import { expect, test } from "bun:test";

/**
 * Tiny-config parity with our PyTorch port (scripts/parity): runs only where a python3 with torch
 * is available (IFLAME_PYTHON, else python3); CI machines without PyTorch skip it.
 */
const python = process.env.IFLAME_PYTHON ?? "python3";
const hasTorch = Bun.spawnSync([python, "-c", "import torch, numpy"], { stderr: "ignore" }).exitCode === 0;
if (!hasTorch) console.log(`parity test skipped: ${python} cannot import torch and numpy (set IFLAME_PYTHON to one that can)`);

test.skipIf(!hasTorch)("tiny config: logits and gradients match PyTorch (≤ 1e-4 relative)", () => {
  const dir = `/tmp/iflame-parity-${process.pid}`;
  const run = Bun.spawnSync(["bun", "scripts/parity/run-parity.ts", "--config", "tiny", "--B", "2", "--L", "450", "--dir", dir], {
    env: { ...process.env, PATH: `${python.includes("/") ? python.slice(0, python.lastIndexOf("/")) + ":" : ""}${process.env.PATH}` },
  });
  const out = run.stdout.toString();
  expect(run.exitCode).toBe(0);
  const summary = JSON.parse(out.slice(out.lastIndexOf("\n{") + 1));
  expect(summary.loss.relError).toBeLessThan(1e-5);
  expect(summary.logitsMaxRelError).toBeLessThan(1e-4);
  expect(summary.gradsMaxRelError).toBeLessThan(1e-4);
});
