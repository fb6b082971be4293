/**
 * `iflame <command> [flags]`: the dispatcher. Each command lives in src/cli/commands/ (generate
 * beside the sampler, in src/generate/) and is loaded only when asked for, so `iflame info` does
 * not pay for the trainer's imports.
 */
import { type Command, runCommand } from "./command.ts";
import { IFLAME_VERSION } from "./version.ts";

interface Entry {
  summary: string;
  load: () => Promise<Command>;
}

const COMMANDS: Record<string, Entry> = {
  train: { summary: "train a model (tiny config on procedural meshes by default)", load: async () => (await import("./commands/train.ts")).trainCommand },
  generate: { summary: "generate meshes from a checkpoint (a run folder, checkpoint, safetensors or .pth)", load: async () => (await import("../generate/command.ts")).generateCommand },
  eval: { summary: "compare generated meshes with a reference set (MMD, COV, 1-NNA, JSD, validity)", load: async () => (await import("./commands/eval.ts")).evalCommand },
  tokenize: { summary: "tokenize a mesh file and report what the pipeline did", load: async () => (await import("./commands/tokenize.ts")).tokenizeCommand },
  dataset: { summary: "write a dataset split as mesh files (the built-in shapes' held-out test split)", load: async () => (await import("./commands/dataset.ts")).datasetCommand },
  view: { summary: "browse meshes or watch a training run in a local web page", load: async () => (await import("./commands/view.ts")).viewCommand },
  bench: { summary: "measure the GPU runtime, kernels, tokenizer, sampler or eval", load: async () => (await import("./commands/bench.ts")).benchCommand },
  info: { summary: "print the WebGPU library, adapter, features and limits", load: async () => (await import("./commands/info.ts")).infoCommand },
  convert: { summary: "convert a reference PyTorch checkpoint (.pth) to an iflame checkpoint", load: async () => (await import("./commands/convert.ts")).convertCommand },
  "export-torch": { summary: "export an iflame checkpoint as a PyTorch .pth", load: async () => (await import("./commands/convert.ts")).exportTorchCommand },
};

function usage(): string {
  const rows = Object.entries(COMMANDS).map(([name, c]) => [name, c.summary]);
  return [
    `iflame ${IFLAME_VERSION}: the iFlame mesh generator on WebGPU`,
    "",
    "usage: iflame <command> [flags]     iflame <command> --help for its flags",
    "",
    "commands:",
    ...rows.map(([name, summary]) => `  ${name.padEnd(14)}${summary}`),
  ].join("\n");
}

/** Runs the command line `argv` (without the program name); resolves to the exit code. */
export async function runCli(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === "--version") {
    console.log(IFLAME_VERSION);
    return 0;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    console.error(`iflame: unknown command '${name}' (commands: ${Object.keys(COMMANDS).join(", ")})`);
    return 2;
  }
  return runCommand(await entry.load(), rest);
}
