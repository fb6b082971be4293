/**
 * `iflame generate`: load weights, build the prompt, decode batches on the GPU, write one mesh per
 * sample and samples.json (src/generate/options.ts lists the flags).
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { DEFAULT_EVAL_POINTS, checkMeshFolder, evaluateFolders } from "../eval/evaluate.ts";
import { formatEvalTable } from "../eval/table.ts";
import { Gpu } from "../gpu/runtime.ts";
import { faceCount } from "../mesh/mesh.ts";
import { TOKENS } from "../tokenizer/index.ts";
import { writeFileAtomic } from "../util/atomic-write.ts";
import { generateBatch } from "./batch.ts";
import { Decoder } from "./decoder.ts";
import { checkTokenStream } from "./grammar.ts";
import { cacheMemory, formatCacheMemory } from "./memory.ts";
import { DEFAULT_PROMPT_FACES, type GenerateOptions } from "./options.ts";
import { sequenceToMesh, writeSample } from "./output.ts";
import { meshPrompt, unconditionalPrompt } from "./prompt.ts";
import { loadWeights } from "./weights.ts";
import { resolvePrecision } from "../model/precision.ts";

export interface SampleRecord {
  index: number;
  /** The mesh file in the output folder; null when the sample has no face to write. */
  file: string | null;
  /** The seed of this sample's draws (its tokens depend on nothing else, given the weights). */
  seed: number;
  temperature: number;
  topK: number;
  topP: number;
  /** Faces of the written mesh (prompt faces included, degenerate ones dropped). */
  faces: number;
  tokens: number;
  /** Reached an end token before the length limit. */
  finished: boolean;
  /** A valid token stream: start row, whole faces, end at a row boundary (src/generate/grammar.ts). */
  valid: boolean;
  problem?: string;
  /** Wall time of the batch the sample was decoded in. */
  batchSeconds: number;
}

export interface GenerateSummary {
  samples: SampleRecord[];
  valid: number;
  tokensPerSecond: number;
  syncsPerMesh: number;
  cacheBytesPerSequence: number;
}

export async function generateMeshes(o: GenerateOptions, log: (line: string) => void = console.log): Promise<GenerateSummary> {
  if (o.evalAgainst !== undefined) checkMeshFolder("eval-against", o.evalAgainst);
  const gpu = Gpu.get();
  const weights = await loadWeights(gpu, o.checkpoint);
  const network = weights.config;
  if (o.maxFaces !== undefined && o.maxFaces > weights.config.maxFaces) {
    for (const t of weights.params.values()) gpu.destroy(t);
    throw new Error(`--max-faces ${o.maxFaces}: ${weights.file} was trained on sequences of at most ${weights.config.maxFaces} faces (its config's maxFaces); ask for ${weights.config.maxFaces} or fewer`);
  }
  const maxFaces = o.maxFaces ?? weights.config.maxFaces;
  const capacity = TOKENS.perFace * (maxFaces + 2);
  const promptFaces = o.prompt === undefined ? 0 : (o.promptFaces ?? DEFAULT_PROMPT_FACES);
  const prompt = o.prompt === undefined ? unconditionalPrompt() : await meshPrompt(o.prompt, promptFaces);
  if (promptFaces >= maxFaces) throw new Error(`a prompt of ${promptFaces} faces leaves no room under --max-faces ${maxFaces}`);
  const B = Math.min(o.batch, o.count);
  const precision = resolvePrecision(gpu, o.precision, log);
  const decoder = new Decoder(gpu, network, weights.params, B, capacity, { precision });
  const memory = cacheMemory(decoder);
  const grammar = o.grammar ? { strictOrder: o.strictOrder } : null;
  log(`${weights.file}: ${weights.config.name} (dim ${network.dim}, ${network.blocksPerLevel.reduce((a, b) => a + b, 0)} blocks) on ${gpu.describe()}`);
  log(`${o.count} meshes of at most ${maxFaces} faces, ${B} at a time, ${o.prompt ? `completing ${promptFaces} faces of ${o.prompt}` : "unconditional"}; grammar ${grammar ? (grammar.strictOrder ? "on, strict order" : "on") : "off"}`);
  log(formatCacheMemory(memory, network, capacity));
  await mkdir(o.out, { recursive: true });

  const samples: SampleRecord[] = [];
  const batches = Math.ceil(o.count / B);
  let tokens = 0, seconds = 0, syncs = 0;
  for (let i = 0; i < batches; i++) {
    const seed = o.seed + i * B;
    const sampling = { temperature: o.temperature, topK: o.topK, topP: o.topP, seed };
    const result = generateBatch(decoder, prompt, { sampling, grammar, stepsPerSubmit: o.stepsPerSubmit });
    const keep = Math.min(B, o.count - i * B);
    let faces = 0;
    for (let b = 0; b < keep; b++) {
      const sequence = result.sequences[b];
      const check = checkTokenStream(sequence, { strictOrder: false });
      const mesh = sequenceToMesh(sequence);
      const index = i * B + b;
      samples.push({
        index, file: await writeSample(o.out, index, mesh, o.format), seed: seed + b,
        temperature: o.temperature, topK: o.topK, topP: o.topP, faces: faceCount(mesh), tokens: sequence.length,
        finished: result.finished[b], valid: check.valid, ...(check.problem ? { problem: check.problem } : {}), batchSeconds: result.seconds,
      });
      faces += faceCount(mesh);
    }
    tokens += result.generatedTokens;
    seconds += result.seconds;
    syncs += result.syncs;
    log(
      `batch ${i + 1}/${batches}: ${keep} meshes (${result.finished.slice(0, keep).filter(Boolean).length} finished), ${faces} faces, ` +
        `${result.generatedTokens} tokens in ${result.seconds.toFixed(2)} s (${Math.round(result.generatedTokens / result.seconds)} tokens/s), ` +
        `${result.steps} steps, ${result.syncs} syncs (${(result.syncs / B).toFixed(2)} per mesh)`,
    );
  }
  const summary: GenerateSummary = {
    samples,
    valid: samples.filter((s) => s.valid).length,
    tokensPerSecond: tokens / seconds,
    syncsPerMesh: syncs / (batches * B),
    cacheBytesPerSequence: memory.bytes,
  };
  const index = {
    weights: weights.file, config: weights.config, maxFaces, precision,
    prompt: o.prompt === undefined ? null : { file: o.prompt, faces: promptFaces },
    grammar, stepsPerSubmit: o.stepsPerSubmit, memory, ...summary,
  };
  await writeFileAtomic(join(o.out, "samples.json"), `${JSON.stringify(index, null, 2)}\n`);
  log(`${summary.valid}/${samples.length} valid; ${Math.round(summary.tokensPerSecond)} tokens/s; ${summary.syncsPerMesh.toFixed(2)} syncs per mesh; wrote ${o.out}/samples.json`);
  decoder.destroy();
  for (const t of weights.params.values()) gpu.destroy(t);
  if (o.evalAgainst !== undefined) await evaluateSamples(o.out, o.evalAgainst, summary, log);
  return summary;
}

/** `--eval-against`: the meshes just written against a reference folder; eval.json beside samples.json. */
async function evaluateSamples(out: string, reference: string, summary: GenerateSummary, log: (line: string) => void): Promise<void> {
  const report = await evaluateFolders({
    generated: out, reference, points: DEFAULT_EVAL_POINTS, seed: 0, log,
    generatedFiles: summary.samples.flatMap((s) => (s.file === null ? [] : [s.file])),
    validStreams: { valid: summary.valid, total: summary.samples.length },
  });
  await writeFileAtomic(join(out, "eval.json"), `${JSON.stringify(report, null, 2)}\n`);
  log(formatEvalTable(report));
  log(`wrote ${out}/eval.json`);
}
