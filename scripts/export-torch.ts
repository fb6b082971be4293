/** bun scripts/export-torch.ts <checkpoint-or-run-dir> <out.pth> [--layout state-dict|reference]: our weights → a PyTorch .pth. */
import { parseArgs } from "node:util";
import { exportTorchCheckpoint } from "../src/interop/convert.ts";

const { values, positionals } = parseArgs({ allowPositionals: true, options: { layout: { type: "string", default: "state-dict" } } });
const layout = values.layout;
if (positionals.length !== 2 || (layout !== "state-dict" && layout !== "reference")) {
  console.error("usage: bun scripts/export-torch.ts <checkpoint-or-run-dir> <out.pth> [--layout state-dict|reference]");
  process.exit(2);
}
const { config } = await exportTorchCheckpoint(positionals[0], positionals[1], { layout });
console.log(`wrote ${positionals[1]} (${config.name}: dim ${config.dim}, blocks [${config.blocksPerLevel}], layout ${layout})`);
