/** `iflame train`: the trainer (src/train) with its own flags. */
import { TrainOptionsSchema } from "../../train/options.ts";
import { NonFiniteError, train } from "../../train/trainer.ts";
import { CommandError, defineCommand } from "../command.ts";

export const trainCommand = defineCommand({
  name: "train",
  summary: "Train iFlame. With no flags: the tiny config on the built-in procedural meshes.",
  flags: TrainOptionsSchema,
  notes: "Writes metrics.jsonl, checkpoints/ and latest.json to the run folder; watch it with `iflame view <run folder>`.",
  async run(options) {
    let result;
    try {
      result = await train(options);
    } catch (e) {
      // A non-finite step is an expected outcome with advice in its message, not a crash.
      if (e instanceof NonFiniteError) throw new CommandError(e.message);
      throw e;
    }
    const last = result.history.at(-1);
    console.log(
      `done: ${result.steps} steps in ${result.runDir}` +
        (last ? ` · train loss ${last.loss.toFixed(4)} acc ${(100 * last.acc).toFixed(1)}%` : "") +
        (result.val ? ` · val loss ${result.val.loss.toFixed(4)} acc ${(100 * result.val.acc).toFixed(1)}%` : ""),
    );
  },
});
