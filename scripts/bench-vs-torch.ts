/**
 * Ours against PyTorch on the same card, in one run (issue 9): runs
 *   bun scripts/bench-train.ts --config C --batch B --steps S
 *   bun scripts/bench-generate.ts --config C --tokens T --runs 2 --batch 1,32 --no-profile
 *   $IFLAME_PYTHON (default python3) scripts/parity/bench_torch.py --quick ... (same network, L, batch)
 * as child processes (their output is echoed and kept), parses what they print, and prints one
 * markdown table: training tokens/s and peak memory against each PyTorch mode, generation tokens/s
 * at each batch, and ours / PyTorch for each. If one side fails, its error is shown and the other
 * side is still reported.
 *   bun scripts/bench-vs-torch.ts [--config shapenet] [--batch 8] [--gen-tokens 900] [--out DIR]
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { z } from "zod";
import { parseScriptFlags } from "../src/cli/flags.ts";
import { loadModelConfig, sequenceLength } from "../src/model/config.ts";

const Flags = z
  .object({
    config: z.string().default("shapenet").describe("model preset or JSON config (PyTorch gets the same network)"),
    batch: z.coerce.number().int().positive().default(8).describe("training batch"),
    steps: z.coerce.number().int().positive().default(3).describe("timed training steps (ours)"),
    genTokens: z.coerce.number().int().positive().default(900).describe("tokens generated per sequence"),
    genBatch: z.string().regex(/^\d+(,\d+)*$/).default("1,32").describe("generation batch sizes"),
    out: z.string().optional().describe("folder for the raw logs, bench_torch.json and summary.md"),
    torchDevice: z.string().default("cuda").describe("PyTorch device (cpu: a smoke test)"),
    torchModes: z.string().optional().describe("PyTorch training modes (default: bench_torch --quick's)"),
    timeout: z.coerce.number().int().nonnegative().default(0).describe("seconds each child may run (0: no limit)"),
    ours: z.boolean().default(true).describe("run our side"),
    torch: z.boolean().default(true).describe("run the PyTorch side"),
  })
  .strict();

const flags = parseScriptFlags("bench-vs-torch", Flags, process.argv.slice(2));

const root = join(import.meta.dir, "..");
const outDir = flags.out ? resolve(flags.out) : join(tmpdir(), `bench-vs-torch-${process.pid}`);
mkdirSync(outDir, { recursive: true });
const config = await loadModelConfig(flags.config);
const L = sequenceLength(config);

interface Child {
  output: string;
  /** Why it failed (exit code and last lines), or null. */
  error: string | null;
}

/** Runs a command from the repository root, echoing and saving its output (stdout and stderr, interleaved). */
async function run(name: string, cmd: string[]): Promise<Child> {
  console.log(`\n$ ${cmd.join(" ")}`);
  let output = "";
  let proc: ReturnType<typeof Bun.spawn>;
  try {
    proc = Bun.spawn(cmd, { cwd: root, stdout: "pipe", stderr: "pipe", env: { ...process.env, PYTHONUNBUFFERED: "1" } });
  } catch (e) {
    return { output, error: `could not start ${cmd[0]}: ${(e as Error).message}` };
  }
  const timer = flags.timeout ? setTimeout(() => proc.kill(), flags.timeout * 1000) : null;
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    const reader = stream.getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      const text = decoder.decode(r.value, { stream: true });
      output += text;
      process.stdout.write(text);
    }
  };
  await Promise.all([pump(proc.stdout as ReadableStream<Uint8Array>), pump(proc.stderr as ReadableStream<Uint8Array>)]);
  const code = await proc.exited;
  if (timer) clearTimeout(timer);
  writeFileSync(join(outDir, `${name}.log`), output);
  const tail = output.trimEnd().split("\n").slice(-3).join(" / ");
  return { output, error: code === 0 ? null : `${name} exited with ${proc.signalCode ?? code}: ${tail}` };
}

const GIB = { B: 2 ** -30, KiB: 2 ** -20, MiB: 2 ** -10, GiB: 1 } as Record<string, number>;
const num = (s: string) => Number(s.replaceAll(",", ""));

interface OurTrain {
  ms: number;
  tokensPerS: number;
  peakGiB: number;
}

function parseTrain(c: Child): OurTrain | string {
  const m = c.output.match(/([\d.]+) ms\/step · ([\d,]+) tokens\/s · peak tensor memory ([\d.]+) (B|KiB|MiB|GiB)/);
  return m ? { ms: Number(m[1]), tokensPerS: num(m[2]), peakGiB: Number(m[3]) * GIB[m[4]] } : (c.error ?? "no result line in bench-train's output");
}

/** Tokens/s per batch: the best warm run (the cold one if there is no other). */
function parseGenerate(c: Child): Map<number, number> {
  const best = new Map<number, { rate: number; cold: boolean }>();
  for (const m of c.output.matchAll(/^\| (\d+) \| \d+( \(cold\))? \| [\d.]+ \| ([\d,]+) \|/gm)) {
    const [B, cold, rate] = [Number(m[1]), m[2] !== undefined, num(m[3])];
    const seen = best.get(B);
    if (!seen || (seen.cold && !cold) || (seen.cold === cold && rate > seen.rate)) best.set(B, { rate, cold });
  }
  return new Map([...best].map(([B, r]) => [B, r.rate]));
}

/** The parts of bench_torch.py's JSON summary used here. */
interface TorchRun {
  error?: string;
  [batch: `batch${number}`]: { step_s: number; tokens_per_s: number; peak_mem_gib: number | null; error?: string } | undefined;
}
interface TorchSummary {
  device: string;
  torch: string;
  cuda: string | null;
  params: number;
  train: Record<string, TorchRun>;
  generate: Record<string, { tokens_per_s_total: number; error?: string }>;
}

// -- run ------------------------------------------------------------------------------------------
const bun = process.execPath;
const notRun: Child = { output: "", error: "not run" };
const train = flags.ours ? await run("train", [bun, "scripts/bench-train.ts", "--config", flags.config, "--batch", `${flags.batch}`, "--steps", `${flags.steps}`]) : notRun;
const gen = flags.ours
  ? await run("generate", [bun, "scripts/bench-generate.ts", "--config", flags.config, "--tokens", `${flags.genTokens}`, "--runs", "2", "--batch", flags.genBatch, "--no-profile"])
  : notRun;

const torchJson = join(outDir, "bench_torch.json");
let torchChild = notRun;
let torch: TorchSummary | null = null;
if (flags.torch) {
  const python = process.env.IFLAME_PYTHON ?? "python3";
  rmSync(torchJson, { force: true });
  torchChild = await run("torch", [
    python, "scripts/parity/bench_torch.py", "--quick", "--out", torchJson, "--device", flags.torchDevice,
    "--config", "shapenet", "--dim", `${config.dim}`, "--heads", `${config.heads}`, "--blocks", config.blocksPerLevel.join(","),
    "--full-period", `${config.fullPeriod}`, "--L", `${L}`, "--batch", `${flags.batch}`,
    "--gen-tokens", `${flags.genTokens}`, "--gen-batches", flags.genBatch, ...(flags.torchModes ? ["--modes", flags.torchModes] : []),
  ]);
  // bench_torch rewrites its JSON after every part, so a run cut short still gives what it finished.
  try {
    torch = JSON.parse(readFileSync(torchJson, "utf8"));
  } catch {
    torch = null;
  }
}

// -- report ---------------------------------------------------------------------------------------
const ours = parseTrain(train);
const ourGen = parseGenerate(gen);
const fmt = (x: number) => (x >= 100 ? Math.round(x).toLocaleString("en-US") : x.toPrecision(3));
const ratio = (a: number | undefined, b: number | undefined) => (a && b ? `${(a / b).toFixed(2)}×` : "—");
const short = (s: string) => s.replace(/\s+/g, " ").slice(0, 160);

const adapter = train.output.match(/adapter: (.*?) · /)?.[1] ?? gen.output.match(/adapter: (.*?) · /)?.[1] ?? (flags.ours ? "(no describe() line)" : "(not run)");
const lines = [
  `## iFlame ${config.name} (L = ${L}): ours vs PyTorch, same machine`,
  "",
  `- ours: WebGPU adapter ${adapter}`,
  `- PyTorch: ${torch ? `${torch.device} · torch ${torch.torch} · CUDA ${torch.cuda ?? "none"} · ${torch.params?.toLocaleString("en-US")} parameters` : `no result (${short(torchChild.error ?? "no JSON")})`}`,
  "",
  "| measure | PyTorch setting | ours | PyTorch | ours / PyTorch |",
  "|---|---|---|---|---|",
];
const ourTrain = typeof ours === "string" ? null : ours;
const missing = flags.ours ? "failed" : "not run";
const ourCell = (v: number | undefined) => (v === undefined ? missing : fmt(v));
const gib = (v: number | null | undefined) => (v == null ? "n/a" : `${v.toFixed(2)} GiB`);
const trainModes = Object.entries(torch?.train ?? {});
if (!trainModes.length) trainModes.push(["(no PyTorch result)", { error: flags.torch ? (torchChild.error ?? "no training result") : "not run" }]);
const ourRate = `${ourCell(ourTrain?.tokensPerS)}${ourTrain ? ` (${fmt(ourTrain.ms)} ms/step)` : ""}`;
const ourMem = ourTrain ? gib(ourTrain.peakGiB) : missing;
for (const [mode, r] of trainModes) {
  const at = r[`batch${flags.batch}`];
  const failed = r.error ?? at?.error ?? (at ? null : "no result");
  if (failed || !at) {
    const theirs = failed === "not run" ? "not run" : `failed: ${short(String(failed))}`;
    lines.push(`| train tokens/s, B=${flags.batch} | ${mode} | ${ourRate} | ${theirs} | — |`, `| train peak memory, B=${flags.batch} | ${mode} | ${ourMem} | ${theirs} | — |`);
    continue;
  }
  lines.push(
    `| train tokens/s, B=${flags.batch} | ${mode} (${fmt(1000 * at.step_s)} ms/step) | ${ourRate} | ${fmt(at.tokens_per_s)} | ${ratio(ourTrain?.tokensPerS, at.tokens_per_s)} |`,
    `| train peak memory, B=${flags.batch} | ${mode} | ${ourMem} | ${gib(at.peak_mem_gib)} | ${ratio(ourTrain?.peakGiB, at.peak_mem_gib ?? undefined)} |`,
  );
}
for (const B of flags.genBatch.split(",").map(Number)) {
  const t = torch?.generate?.[`batch${B}`];
  const theirs = !t ? (flags.torch ? "failed" : "not run") : t.error ? `failed: ${short(t.error)}` : fmt(t.tokens_per_s_total);
  lines.push(`| generate tokens/s (total), B=${B}, ${flags.genTokens} tokens | fp32 eager, cached | ${ourCell(ourGen.get(B))} | ${theirs} | ${ratio(ourGen.get(B), t?.tokens_per_s_total)} |`);
}
const errors = [
  typeof ours === "string" ? `ours, training: ${short(ours)}` : null,
  gen.error ? `ours, generation: ${short(gen.error)}` : null,
  torchChild.error ? `PyTorch: ${short(torchChild.error)}` : null,
].filter((e) => e && !e.endsWith("not run"));
lines.push(
  "",
  "Ratios are ours / PyTorch: above 1 is faster for tokens/s, below 1 is less memory. Ours: f32 WebGPU, peak tensor memory " +
    "(our allocator's count); PyTorch: torch.cuda.max_memory_allocated. Generation: random weights, best warm run (ours) vs one timed run after a warm-up (PyTorch).",
  ...errors.map((e) => `- **error** ${e}`),
  "",
  `Raw logs: ${outDir}`,
);
const summary = lines.join("\n");
console.log(`\n${summary}`);
writeFileSync(join(outDir, "summary.md"), `${summary}\n`);
process.exitCode = errors.length ? 1 : 0;
