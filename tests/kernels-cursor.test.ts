/** kernels/cursor.ts: embed at the cursor, note first end tokens, advance. */
import { expect, setDefaultTimeout, test } from "bun:test";
import { rmsnormForward } from "../src/cpu/rmsnorm.ts";
import { Gpu } from "../src/gpu/runtime.ts";
import { advanceCursor, embedAtCursor } from "../src/kernels/cursor.ts";
import { maxAbsDiff, rand } from "./helpers.ts";

// GPU kernels on lavapipe (a CPU Vulkan driver), compiled in the first test that uses them: about 3× its slowest test on an idle 2-core machine, at least 10 s (bunfig.toml says why).
setDefaultTimeout(120_000);

const gpu = Gpu.get();

test("the cursor: embed and normalise the token before it, note first end tokens, advance", () => {
  const B = 3, S = 12, D = 8, V = 132;
  const table = rand(V * D, 6);
  const normWeight = rand(D, 7);
  const tokens = new Int32Array(B * S).fill(129);
  // Row 0 ends at 9, row 1 at 10 (after a token at 9), row 2 never.
  tokens.set([131, 131], 0 * S + 9);
  tokens.set([7, 131], 1 * S + 9);
  tokens.set([3, 5, 8], 2 * S + 8);
  const tt = gpu.upload(tokens, [B, S]), tc = gpu.upload(Uint32Array.of(9)), ended = gpu.upload(new Int32Array(B));
  const tTable = gpu.upload(table, [V, D]), tNorm = gpu.upload(normWeight), out = gpu.tensor([B, D]);
  gpu.record((r) => {
    advanceCursor(r, { tokens: tt, cursor: tc, ended }); // looks at 9, cursor → 10
    advanceCursor(r, { tokens: tt, cursor: tc, ended }); // looks at 10, cursor → 11
    embedAtCursor(r, { tokens: tt, cursor: tc, table: tTable, normWeight: tNorm, out }); // tokens at 10
  });
  expect(gpu.read(tc)[0]).toBe(11);
  expect(Array.from(gpu.read(ended))).toEqual([9, 10, 0]);
  const rows = new Float32Array([131, 131, 8].flatMap((token) => Array.from(table.subarray(token * D, (token + 1) * D))));
  expect(maxAbsDiff(gpu.read(out), rmsnormForward(rows, normWeight, B, D).y)).toBeLessThan(1e-6);
  [tt, tc, ended, tTable, tNorm, out].forEach((t) => gpu.destroy(t));
});
