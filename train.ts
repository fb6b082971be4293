/**
 * Train iFlame: `bun run train.ts [--config shapenet|objaverse|tiny|file.json] [--data procedural|<pickle>|<folder>]
 *   [--out runs/<name>] [--resume] [--batch N] [--lr X] [--epochs N] [--steps N] [--accum N] [--seed N]
 *   [--optimizer muon|adamw] [--meshes N] [--val-every N] [--save-every N] [--category ID] [--no-augment] [--quiet]`
 * With no arguments: the tiny config on the built-in procedural meshes.
 */
import { parseTrainArgs } from "./src/train/options.ts";
import { NonFiniteError, train } from "./src/train/trainer.ts";

let options;
try {
  options = parseTrainArgs(process.argv.slice(2));
} catch (e) {
  console.error(`train.ts: ${(e as Error).message}`);
  process.exit(2);
}
try {
  const result = await train(options);
  const last = result.history.at(-1);
  console.log(
    `done: ${result.steps} steps in ${result.runDir}` +
      (last ? ` · train loss ${last.loss.toFixed(4)} acc ${(100 * last.acc).toFixed(1)}%` : "") +
      (result.val ? ` · val loss ${result.val.loss.toFixed(4)} acc ${(100 * result.val.acc).toFixed(1)}%` : ""),
  );
} catch (e) {
  console.error(e instanceof NonFiniteError ? e.message : e);
  process.exit(1);
}
