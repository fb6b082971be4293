/**
 * Generate meshes: `bun run sample.ts --checkpoint <run or checkpoint folder> [flags]`, the same
 * as `iflame generate` (`bun sample.ts --help` lists the flags; src/generate does the work).
 */
import { runCommand } from "./src/cli/command.ts";
import { generateCommand } from "./src/generate/command.ts";

process.exit(await runCommand(generateCommand, process.argv.slice(2)));
