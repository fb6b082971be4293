/** bun scripts/convert.ts <in.pth> <out-dir> [--heads N] [--max-faces N] [--name S]: a PyTorch checkpoint → our checkpoint folder; the same as `iflame convert`. */
import { runCommand } from "../src/cli/command.ts";
import { convertCommand } from "../src/cli/commands/convert.ts";

process.exit(await runCommand(convertCommand, process.argv.slice(2)));
