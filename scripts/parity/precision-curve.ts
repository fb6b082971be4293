/**
 * f16 against f32 training (issue 15, part 5): the same tiny run — seed, data, batches, recipe —
 * trained twice, once per precision, and the f16 loss compared with the f32 loss step by step.
 * The claim checked: the f16 loss curve within 2% of the f32 curve over 200 steps, as the mean
 * loss of every 10 consecutive steps (a single step's loss of a small batch late in training
 * moves by more than 2% with the slightly different trajectory; the summary gives that worst too).
 *   bun scripts/parity/precision-curve.ts [--steps 200] [--config tiny] [--batch 4] [--meshes 8] [--lr 1e-3] [--seed 0]
 * Prints one line per step (f32 loss, f16 loss, ratio) and a JSON summary; exits 1 past 2%.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { parseScriptFlags } from "../../src/cli/flags.ts";
import { parseTrainArgs } from "../../src/train/options.ts";
import { train, type StepMetrics } from "../../src/train/trainer.ts";

/** Steps per point of the compared curve. */
export const WINDOW = 10;

export interface CurveOptions {
  steps: number;
  config?: string;
  batch?: number;
  meshes?: number;
  lr?: number;
  seed?: number;
}

export interface PrecisionCurve {
  f32: StepMetrics[];
  f16: StepMetrics[];
  /** f16 loss / f32 loss per step. */
  ratios: number[];
  /** max |ratio − 1| over single steps. */
  worst: number;
  /** max |ratio − 1| of the mean losses of every WINDOW consecutive steps (the curve). */
  worstWindow: number;
  /** Steps the f16 run skipped (gradient overflow at its loss scale). */
  skipped: number;
}

/** Trains the same run at f32 and at f16 and compares their losses step by step. */
export async function precisionCurve(o: CurveOptions): Promise<PrecisionCurve> {
  const { steps, config = "tiny", batch = 4, meshes = 8, lr = 1e-3, seed = 0 } = o;
  const run = async (precision: "f32" | "f16") => {
    const out = mkdtempSync(join(tmpdir(), `iflame-precision-${precision}-`));
    const args = [
      "--config", config, "--steps", String(steps), "--batch", String(batch), "--meshes", String(meshes), "--lr", String(lr),
      "--seed", String(seed), "--precision", precision, "--no-augment", "--quiet", "--val-every", "100000", "--save-every", "100000", "--out", out,
    ];
    try {
      return (await train(parseTrainArgs(args), () => {})).history;
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  };
  const f32 = await run("f32");
  const f16 = await run("f16");
  const ratios = f16.map((m, i) => m.loss / f32[i].loss);
  const sum = (h: StepMetrics[], i: number) => h.slice(i, i + WINDOW).reduce((s, m) => s + m.loss, 0);
  const windows = Array.from({ length: Math.max(0, steps - WINDOW + 1) }, (_, i) => Math.abs(sum(f16, i) / sum(f32, i) - 1));
  return {
    f32, f16, ratios, worst: Math.max(...ratios.map((r) => Math.abs(r - 1))), worstWindow: Math.max(0, ...windows),
    skipped: f16.filter((m) => m.skipped).length,
  };
}

if (import.meta.main) {
  const flags = parseScriptFlags(
    "precision-curve",
    z.object({
      steps: z.coerce.number().int().positive().default(200),
      config: z.string().default("tiny"),
      batch: z.coerce.number().int().positive().default(4),
      meshes: z.coerce.number().int().positive().default(8),
      lr: z.coerce.number().positive().default(1e-3),
      seed: z.coerce.number().int().nonnegative().default(0),
    }).strict(),
    process.argv.slice(2),
  );
  const curve = await precisionCurve(flags);
  console.log("step  f32 loss  f16 loss  f16/f32");
  curve.ratios.forEach((r, i) => console.log(`${String(i + 1).padStart(4)}  ${curve.f32[i].loss.toFixed(5)}  ${curve.f16[i].loss.toFixed(5)}  ${r.toFixed(5)}`));
  const summary = {
    ...flags, worstStep: curve.worst, worstWindow: curve.worstWindow, window: WINDOW, skipped: curve.skipped,
    stepsWithin2Percent: curve.ratios.filter((r) => Math.abs(r - 1) <= 0.02).length,
    first: { f32: curve.f32[0].loss, f16: curve.f16[0].loss }, last: { f32: curve.f32.at(-1)!.loss, f16: curve.f16.at(-1)!.loss },
    curveWithin2Percent: curve.worstWindow <= 0.02,
  };
  console.log(JSON.stringify(summary, null, 2));
  process.exit(summary.curveWithin2Percent ? 0 : 1);
}
