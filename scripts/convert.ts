/** bun scripts/convert.ts <in.pth> <out-dir> [--heads N] [--max-faces N] [--name S]: a PyTorch checkpoint → our checkpoint folder. */
import { parseArgs } from "node:util";
import { convertTorchCheckpoint } from "../src/interop/convert.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { heads: { type: "string" }, "max-faces": { type: "string" }, name: { type: "string" } },
});
if (positionals.length !== 2) {
  console.error("usage: bun scripts/convert.ts <in.pth> <out-dir> [--heads N] [--max-faces N] [--name S]");
  process.exit(2);
}
const int = (flag: string, text?: string) => {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new Error(`--${flag} must be a positive integer, got '${text}'`);
  return Number(text);
};
const { config, file } = await convertTorchCheckpoint(positionals[0], positionals[1], {
  heads: int("heads", values.heads), maxFaces: int("max-faces", values["max-faces"]), name: values.name,
});
console.log(`wrote ${file}: ${JSON.stringify(config)}`);
