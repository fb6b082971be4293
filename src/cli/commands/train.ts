/** `iflame train`: the trainer (src/train) with its own flags. */
import { TrainOptionsSchema } from "../../train/options.ts";
import { train } from "../../train/trainer.ts";
import { defineCommand } from "../command.ts";

export const trainCommand = defineCommand({
  name: "train",
  summary: "Train iFlame. With no flags: the tiny config on the built-in procedural meshes.",
  flags: TrainOptionsSchema,
  notes: "Writes metrics.jsonl, checkpoints/ and latest.json to the run folder; watch it with `iflame view <run folder>`.",
  async run(options) {
    const result = await train(options);
    const last = result.history.at(-1);
    console.log(
      `done: ${result.steps} steps in ${result.runDir}` +
        (last ? ` · train loss ${last.loss.toFixed(4)} acc ${(100 * last.acc).toFixed(1)}%` : "") +
        (result.val ? ` · val loss ${result.val.loss.toFixed(4)} acc ${(100 * result.val.acc).toFixed(1)}%` : ""),
    );
  },
});
