/**
 * metrics.jsonl: one JSON row per training step (`kind: "train"`) and per validation. A run that
 * resumes from step S continues the file from there: rows past S (written after the checkpoint
 * by a run that then died) and a torn last line are dropped first, so the file keeps one row
 * per step however often the run was interrupted.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../util/atomic-write.ts";

export const metricsFile = (runDir: string) => join(runDir, "metrics.jsonl");

/** Keeps the rows of steps 1..step (none when starting at 0). */
export async function truncateMetrics(runDir: string, step: number): Promise<void> {
  const file = metricsFile(runDir);
  if (!existsSync(file)) return;
  const kept = (await Bun.file(file).text()).split("\n").filter((line) => {
    try {
      const row = JSON.parse(line) as { step?: unknown };
      return typeof row.step === "number" && row.step <= step;
    } catch {
      return false;
    }
  });
  await writeFileAtomic(file, kept.map((l) => `${l}\n`).join(""));
}
