/**
 * Train iFlame: `bun run train.ts [flags]`, the same as `iflame train` (`bun train.ts --help`
 * lists the flags). With no arguments: the tiny config on the built-in procedural meshes.
 */
import { runCommand } from "./src/cli/command.ts";
import { trainCommand } from "./src/cli/commands/train.ts";

process.exit(await runCommand(trainCommand, process.argv.slice(2)));
