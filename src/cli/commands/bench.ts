/**
 * `iflame bench`: runs one of the benchmark scripts in this process. The scripts read their own
 * arguments from process.argv, so the forwarded ones are put there before the import.
 */
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
  runtime: { about: "dispatch overhead, submit round trip, bandwidth, matmul probe", load: () => import("../../../scripts/bench-runtime.ts") },
  kernels: { about: "every kernel family at the ShapeNet shapes (families may follow)", load: () => import("../../../scripts/bench-kernels.ts") },
  tokenizer: { about: "WASM tokenizer against the TS reference", load: () => import("../../../scripts/bench-tokenizer.ts") },
  eval: { about: "iflame eval at N + N meshes: GPU pairwise Chamfer, metrics, JSD (-- --n 1000 --points 2048)", load: () => import("../../../scripts/bench-eval.ts") },
  generate: { about: "sampler tokens/s and syncs per mesh (its own flags after --, e.g. -- --batch 1,32)", load: () => import("../../../scripts/bench-generate.ts") },
} as const;

export const benchCommand = defineCommand({
  name: "bench",
  summary: "Measure this machine: the GPU runtime, the kernels, the tokenizer, the sampler, or the eval metrics.",
  args: "[runtime|kernels|tokenizer|generate|eval] [kernel family ...] [-- script flags]",
  positionals: [0, 64],
  flags: BenchFlags,
  notes: "suites:\n" + Object.entries(SUITES).map(([name, s]) => `  ${name.padEnd(10)}${s.about}`).join("\n"),
  async run(flags, [suite = "runtime", ...rest]) {
    if (!(suite in SUITES)) throw new UsageError(`unknown suite '${suite}' (${Object.keys(SUITES).join(", ")})`);
    if (flags.iterations && suite !== "kernels") throw new UsageError("--iterations is for the kernels suite");
    if (flags.quick && suite !== "runtime") throw new UsageError("--quick is for the runtime suite");
    if (suite === "kernels" && Bun.isStandaloneExecutable) {
      throw new Error("the kernels suite loads its cases from scripts/bench/ at run time: run it from a source checkout (bun scripts/bench-kernels.ts)");
    }
    const forwarded = [...rest, ...(flags.quick ? ["--quick"] : []), ...(flags.iterations ? ["--iterations", String(flags.iterations)] : [])];
    process.argv = [process.argv[0], `bench-${suite}`, ...forwarded];
    await SUITES[suite as keyof typeof SUITES].load();
  },
});
