/**
 * One batch of generation: B sequences from the same prompt, decoded with K steps per submission
 * and the next token chosen and fed back on the GPU (src/generate/decoder.ts). The CPU reads back
 * only the [B] end positions once per K steps, and the tokens once at the end.
 *
 * While the GPU runs one group of K steps the CPU records the next, and submits it right after
 * the check of the previous group: the GPU never waits for the CPU to record. The group recorded
 * ahead is submitted even when the check finds every sequence finished (at most K wasted steps a
 * batch), so no recorded command buffer is left behind.
 */
import { Recorder } from "../gpu/runtime.ts";
import { TOKENS } from "../tokenizer/index.ts";
import type { Decoder, EmitOptions } from "./decoder.ts";

export const DEFAULT_STEPS_PER_SUBMIT = 64;

export interface BatchOptions extends EmitOptions {
  /** Decoding steps recorded into one submission between end checks. */
  stepsPerSubmit: number;
  /** Called after each end check. */
  onCheck?: (progress: { position: number; finished: number }) => void;
  /** Decode every position up to the capacity even once all sequences have ended (benchmarks: fixed work). */
  ignoreEnds?: boolean;
}

export interface BatchResult {
  /** Each sequence's tokens, start row first, through its first end token (or all it has). */
  sequences: Int32Array[];
  /** Whether each sequence reached an end token before the capacity. */
  finished: boolean[];
  /** Tokens sampled (after the prompt, through the end token), summed over the batch. */
  generatedTokens: number;
  /** Decoding steps run (each covers all B sequences). */
  steps: number;
  /** Times the CPU waited for the GPU (end checks and the final token read). */
  syncs: number;
  seconds: number;
}

/** Generates B sequences continuing `prompt` (the start row, maybe followed by face rows). */
export function generateBatch(decoder: Decoder, prompt: Int32Array, opts: BatchOptions): BatchResult {
  const { gpu, B, capacity } = decoder;
  const P = prompt.length;
  if (P < TOKENS.perFace || P >= capacity) throw new Error(`generate: a prompt of ${P} tokens does not fit a capacity of ${capacity} (it needs the start row)`);
  const K = opts.stepsPerSubmit;
  if (!Number.isInteger(K) || K < 1) throw new Error(`generate: steps per submit ${K} must be a positive integer`);
  const started = performance.now();
  const given = new Int32Array(B * P);
  for (let b = 0; b < B; b++) given.set(prompt, b * P);
  const prefill = TOKENS.perFace * Math.floor(P / TOKENS.perFace);
  decoder.begin(given, P, prefill, { sampling: opts.sampling, grammar: opts.grammar });
  gpu.record((r) => decoder.prefill(r));

  // The last useful step is at capacity − 2: it samples the final token.
  const more = () => decoder.position + 1 < capacity;
  const recordGroup = (): Recorder => {
    const r = new Recorder(gpu);
    for (let k = 0; k < K && more(); k++) decoder.step(r);
    return r;
  };
  let syncs = 0;
  const ended = new Int32Array(B);
  recordGroup().submit();
  for (;;) {
    const ahead = more() ? recordGroup() : null;
    gpu.read(decoder.ended, ended);
    syncs++;
    const finished = ended.reduce((n, e) => n + (e > 0 ? 1 : 0), 0);
    opts.onCheck?.({ position: decoder.position, finished });
    ahead?.submit();
    if (!ahead || (finished === B && !opts.ignoreEnds)) break;
  }
  const tokens = gpu.read(decoder.tokens);
  syncs++;

  // Through each sequence's first end token (after the prompt), or through the last sampled one.
  const sampled = Math.min(capacity, decoder.position + 1);
  const sequences: Int32Array[] = [];
  const finished: boolean[] = [];
  let generatedTokens = 0;
  for (let b = 0; b < B; b++) {
    const row = tokens.subarray(b * capacity, b * capacity + sampled) as Int32Array;
    const end = row.indexOf(TOKENS.end, P);
    sequences.push(row.slice(0, end >= 0 ? end + 1 : sampled));
    finished.push(end >= 0);
    generatedTokens += sequences[b].length - P;
  }
  return {
    sequences,
    finished,
    generatedTokens,
    steps: decoder.position - prefill,
    syncs,
    seconds: (performance.now() - started) / 1000,
  };
}
