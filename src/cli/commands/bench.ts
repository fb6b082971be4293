/**
 * `iflame bench`: runs one of the benchmark scripts (scripts/bench-*.ts) as a child process with
 * the forwarded flags. They stay scripts, not part of src/: they compare against the CPU
 * references (src/cpu), which src/ never imports, so the compiled binary does not carry them.
 */
import { join } from "node:path";
import { z } from "zod";
import { defineCommand } from "../command.ts";
import { UsageError } from "../flags.ts";

const BenchFlags = z
  .object({
    quick: z.boolean().default(false).describe("runtime: smaller sizes (always on in CI)"),
    iterations: z.coerce.number().int().positive().optional().describe("kernels: timed iterations per case (default 10)"),
  })
  .strict();

const SUITES = {
  runtime: { about: "dispatch overhead, submit round trip, bandwidth, matmul probe" },
  kernels: { about: "every kernel family at the ShapeNet shapes (families may follow)" },
  tokenizer: { about: "WASM tokenizer against the TS reference" },
  generate: { about: "sampler tokens/s and syncs per mesh (its own flags after --, e.g. -- --batch 1,32)" },
} as const;

export const benchCommand = defineCommand({
  name: "bench",
  summary: "Measure this machine: the GPU runtime, the kernels, the tokenizer, or the sampler.",
  args: "[runtime|kernels|tokenizer|generate] [kernel family ...] [-- script flags]",
  positionals: [0, 64],
  flags: BenchFlags,
  notes: "suites:\n" + Object.entries(SUITES).map(([name, s]) => `  ${name.padEnd(10)}${s.about}`).join("\n"),
  async run(flags, [suite = "runtime", ...rest]) {
    if (!(suite in SUITES)) throw new UsageError(`unknown suite '${suite}' (${Object.keys(SUITES).join(", ")})`);
    if (flags.iterations && suite !== "kernels") throw new UsageError("--iterations is for the kernels suite");
    if (flags.quick && suite !== "runtime") throw new UsageError("--quick is for the runtime suite");
    const script = `bench-${suite}.ts`;
    if (Bun.isStandaloneExecutable) throw new Error(`the benchmarks are scripts of a source checkout: run \`bun scripts/${script}\` there`);
    const forwarded = [...rest, ...(flags.quick ? ["--quick"] : []), ...(flags.iterations ? ["--iterations", String(flags.iterations)] : [])];
    const child = Bun.spawn([process.execPath, join(import.meta.dir, "..", "..", "..", "scripts", script), ...forwarded], {
      stdio: ["inherit", "inherit", "inherit"],
    });
    const code = await child.exited;
    if (code !== 0) throw new Error(`scripts/${script} exited with status ${code}`);
  },
});
