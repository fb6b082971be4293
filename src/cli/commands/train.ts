/** `iflame train`: the trainer (src/train) with its own flags; data-parallel under mpiexec. */
import { openWorld } from "../../distributed/world.ts";
import { TrainOptionsSchema } from "../../train/options.ts";
import { train } from "../../train/trainer.ts";
import { defineCommand } from "../command.ts";

export const trainCommand = defineCommand({
  name: "train",
  summary: "Train iFlame. With no flags: the tiny config on the built-in procedural meshes.",
  flags: TrainOptionsSchema,
  notes:
    "Writes metrics.jsonl, checkpoints/ and latest.json to the run folder; watch it with `iflame view <run folder>`.\n" +
    "Data-parallel: `mpiexec -n K bun train.ts …` (--batch is per rank; see docs/DISTRIBUTED.md).",
  async run(options) {
    const world = openWorld(options.distributed);
    const result = await world.guard(() => train(options, console.log, world));
    world.finalize();
    if (!world.isRoot) return;
    const last = result.history.at(-1);
    console.log(
      `done: ${result.steps} steps in ${result.runDir}` +
        (last ? ` · train loss ${last.loss.toFixed(4)} acc ${(100 * last.acc).toFixed(1)}%` : "") +
        (result.val ? ` · val loss ${result.val.loss.toFixed(4)} acc ${(100 * result.val.acc).toFixed(1)}%` : ""),
    );
  },
});
