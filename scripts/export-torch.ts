/** bun scripts/export-torch.ts <checkpoint-or-run-dir> <out.pth> [--layout state-dict|reference]: our weights → a PyTorch .pth; the same as `iflame export-torch`. */
import { runCommand } from "../src/cli/command.ts";
import { exportTorchCommand } from "../src/cli/commands/convert.ts";

process.exit(await runCommand(exportTorchCommand, process.argv.slice(2)));
