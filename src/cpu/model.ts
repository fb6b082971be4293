import { type FloatArray, add, check, zerosLike } from "./array.ts";
import { attentionBackward, attentionForward } from "./attention.ts";
import { crossEntropy, lossTargets } from "./cross-entropy.ts";
import { embeddingBackward, embeddingForward } from "./embedding.ts";
import {
  FACTOR, avgpool3Backward, avgpool3Forward, shiftBackward, shiftForward, skipAddBackward, skipAddForward,
  upsample3Backward, upsample3Forward,
} from "./hourglass.ts";
import { alibiSlopes, linearAttentionBackward, linearAttentionForward } from "./linear-attention.ts";
import { linearBackward, linearForward } from "./matmul.ts";
import { normal, uniform01 } from "./rng.ts";
import { rmsnormBackward, rmsnormForward } from "./rmsnorm.ts";
import { ropeBackward, ropeForward } from "./rope.ts";
import { type FeedForwardCache, type FeedForwardParams, feedForwardBackward, feedForwardForward } from "./swiglu.ts";

/**
 * The whole iFlame network on the CPU (reference: transformer.py, class iFlame), forward and a full
 * backward built from the module backwards. Activations are [B, L, D]; L must be a multiple of 9.
 *
 *   x = RMSNorm(Embedding(tokens))
 *   enc0 @ L;   skip0 = x;  x = avgpool3(x)
 *   enc1 @ L/3; skip1 = x;  x = avgpool3(x)
 *   bottleneck @ L/9 (bottlenecke then bottleneckd)
 *   x = skip_weights2[0]·shift2(upsample3(x)) + skip1;  dec0 @ L/3
 *   x = skip_weights2[1]·shift2(upsample3(x)) + skip0;  dec1 @ L
 *   logits = output_proj(x)                              (no final norm)
 * Every block: x = x + Attn(norm1(x)); x = x + FeedForward(norm2(x)).
 */
export interface ModelConfig {
  dim: number;
  heads: number;
  /** Blocks in enc0, enc1, the bottleneck, dec0, dec1. */
  blocksPerLevel: readonly [number, number, number, number, number];
  /** Block n (1-based, numbered through the levels in that order) is full attention iff n % fullPeriod == 0. */
  fullPeriod: number;
  vocab: number;
  /** Feed-forward width, int(8/3 · dim) in the reference. */
  hidden: number;
}

export const hiddenDim = (dim: number) => Math.floor((8 / 3) * dim);

export const SHAPENET_CONFIG: ModelConfig = {
  dim: 512, heads: 16, blocksPerLevel: [4, 4, 8, 4, 4], fullPeriod: 4, vocab: 132, hidden: hiddenDim(512),
};

/** Parameters keyed by the reference's state-dict names, each stored row-major (Linear weights [out, in]). */
export type Params<T extends FloatArray = FloatArray> = Record<string, T>;

export interface BlockSpec {
  /** State-dict prefix, e.g. "encoder_blocks.1.3" or "bottleneckd.0". */
  prefix: string;
  /** 1-based position in the whole stack. */
  number: number;
  /** Full softmax attention, else decayed linear attention (which has attn.rms_norm.weight). */
  full: boolean;
}

/**
 * The blocks of each level [enc0, enc1, bottleneck, dec0, dec1]. The reference splits the
 * bottleneck into `bottlenecke` (first half) and `bottleneckd` (second half), 4 + 4 for ShapeNet;
 * an odd count puts the extra block in bottlenecke.
 */
export function blockSpecs(config: ModelConfig): BlockSpec[][] {
  const [enc0, enc1, bott, dec0, dec1] = config.blocksPerLevel;
  const firstHalf = Math.ceil(bott / 2);
  const names = (count: number, name: (i: number) => string) => Array.from({ length: count }, (_, i) => name(i));
  const levels = [
    names(enc0, (i) => `encoder_blocks.0.${i}`),
    names(enc1, (i) => `encoder_blocks.1.${i}`),
    names(bott, (i) => (i < firstHalf ? `bottlenecke.${i}` : `bottleneckd.${i - firstHalf}`)),
    names(dec0, (i) => `decoder_blocks.0.${i}`),
    names(dec1, (i) => `decoder_blocks.1.${i}`),
  ];
  let number = 0;
  return levels.map((level) => level.map((prefix) => {
    number++;
    return { prefix, number, full: number % config.fullPeriod === 0 };
  }));
}

/** A parameter's name, shape and PyTorch-default initialisation ("uniform" is U(−bound, bound)). */
export interface ParamSpec {
  name: string;
  shape: number[];
  init: "ones" | "normal" | "uniform";
  bound: number;
}

/** Every parameter in the reference's state-dict order. */
export function paramSpecs(config: ModelConfig): ParamSpec[] {
  const { dim: D, vocab: V, hidden } = config;
  const specs: ParamSpec[] = [];
  const ones = (name: string, n: number) => specs.push({ name, shape: [n], init: "ones", bound: 0 });
  // nn.Linear default: weight and bias both U(±1/√in).
  const linear = (name: string, out: number, inF: number, bias: boolean) => {
    specs.push({ name: `${name}.weight`, shape: [out, inF], init: "uniform", bound: 1 / Math.sqrt(inF) });
    if (bias) specs.push({ name: `${name}.bias`, shape: [out], init: "uniform", bound: 1 / Math.sqrt(inF) });
  };
  ones("skip_weights2", 2);
  specs.push({ name: "embedding.weight", shape: [V, D], init: "normal", bound: 0 });
  for (const spec of blockSpecs(config).flat()) {
    const p = spec.prefix;
    for (const proj of ["q", "k", "v", "out"]) linear(`${p}.attn.${proj}_proj`, D, D, false);
    if (!spec.full) ones(`${p}.attn.rms_norm.weight`, D);
    linear(`${p}.feed_forward.proj1`, hidden, D, true);
    linear(`${p}.feed_forward.proj2`, hidden, D, true);
    linear(`${p}.feed_forward.proj3`, D, hidden, true);
    ones(`${p}.norm1.weight`, D);
    ones(`${p}.norm2.weight`, D);
  }
  linear("output_proj", V, D, true);
  ones("norm.weight", D);
  return specs;
}

/**
 * Deterministic initial parameters (f32): PyTorch's default shapes and distributions (Linear
 * U(±1/√in), Embedding N(0, 1), norms and skip weights 1), drawn from uniform01(seed, counter)
 * with one running counter over paramSpecs order. Not torch's bits, only its distributions.
 */
export function initParams(config: ModelConfig, seed: number): Params<Float32Array> {
  const params: Params<Float32Array> = {};
  let counter = 0;
  for (const spec of paramSpecs(config)) {
    const p = new Float32Array(spec.shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < p.length; i++) {
      if (spec.init === "ones") p[i] = 1;
      else if (spec.init === "normal") { p[i] = normal(seed, counter); counter += 2; }
      else p[i] = spec.bound * (2 * uniform01(seed, counter++) - 1);
    }
    params[spec.name] = p;
  }
  return params;
}

function param<T extends FloatArray>(params: Params<T>, name: string): T {
  const p = params[name];
  check(p !== undefined, `missing parameter ${name}`);
  return p;
}

function feedForwardParams(params: Params, prefix: string): FeedForwardParams {
  const w = (s: string) => param(params, `${prefix}.feed_forward.${s}`);
  return {
    w1: w("proj1.weight"), b1: w("proj1.bias"),
    w2: w("proj2.weight"), b2: w("proj2.bias"),
    w3: w("proj3.weight"), b3: w("proj3.bias"),
  };
}

/** What one block's backward needs from its forward. */
interface BlockCache<T extends FloatArray> {
  x: T;
  norm1: { y: T; rstd: T };
  qr: T; kr: T; v: T;
  /** Attention output with heads concatenated, [B, L, D]. */
  heads: T;
  /** Full attention only: per-row log-sum-exp. */
  lse: T | null;
  /** Linear attention only: the RMSNorm over the concatenated heads. */
  headNorm: { y: T; rstd: T } | null;
  x1: T;
  norm2: { y: T; rstd: T };
  ff: FeedForwardCache<T>;
}

function blockForward<T extends FloatArray>(
  config: ModelConfig, params: Params<T>, spec: BlockSpec, x: T, B: number, L: number,
): { y: T; cache: BlockCache<T> } {
  const { dim: D, heads: H, hidden } = config;
  const hd = D / H, N = B * L;
  const w = (s: string) => param(params, `${spec.prefix}.${s}`);
  const norm1 = rmsnormForward(x, w("norm1.weight"), N, D);
  const project = (which: string) => linearForward(norm1.y, w(`attn.${which}_proj.weight`), null, N, D, D);
  const qr = ropeForward(project("q"), B, L, H, hd);
  const kr = ropeForward(project("k"), B, L, H, hd);
  const v = project("v");
  let heads: T, lse: T | null = null, headNorm: { y: T; rstd: T } | null = null;
  if (spec.full) {
    ({ o: heads, lse } = attentionForward(qr, kr, v, B, L, H, hd));
  } else {
    heads = linearAttentionForward(qr, kr, v, B, L, H, hd, alibiSlopes(H));
    headNorm = rmsnormForward(heads, w("attn.rms_norm.weight"), N, D);
  }
  const x1 = add(x, linearForward(headNorm ? headNorm.y : heads, w("attn.out_proj.weight"), null, N, D, D));
  const norm2 = rmsnormForward(x1, w("norm2.weight"), N, D);
  const ff = feedForwardForward(norm2.y, feedForwardParams(params, spec.prefix), N, D, hidden);
  return { y: add(x1, ff.y), cache: { x, norm1, qr, kr, v, heads, lse, headNorm, x1, norm2, ff: ff.cache } };
}

/** Backward of one block given dy; writes its parameter gradients into `grads`, returns dx. */
function blockBackward<T extends FloatArray>(
  config: ModelConfig, params: Params<T>, spec: BlockSpec, c: BlockCache<T>, dy: T, B: number, L: number,
  grads: Params<T>,
): T {
  const { dim: D, heads: H, hidden } = config;
  const hd = D / H, N = B * L, p = spec.prefix;
  const w = (s: string) => param(params, `${p}.${s}`);
  // y = x1 + FeedForward(norm2(x1))
  const ff = feedForwardBackward(c.norm2.y, feedForwardParams(params, p), c.ff, dy, N, D, hidden);
  grads[`${p}.feed_forward.proj1.weight`] = ff.dw1; grads[`${p}.feed_forward.proj1.bias`] = ff.db1;
  grads[`${p}.feed_forward.proj2.weight`] = ff.dw2; grads[`${p}.feed_forward.proj2.bias`] = ff.db2;
  grads[`${p}.feed_forward.proj3.weight`] = ff.dw3; grads[`${p}.feed_forward.proj3.bias`] = ff.db3;
  const norm2 = rmsnormBackward(c.x1, w("norm2.weight"), c.norm2.rstd, ff.dx, N, D);
  grads[`${p}.norm2.weight`] = norm2.dw;
  const dx1 = add(dy, norm2.dx);
  // x1 = x + out_proj(mixed heads)
  const out = linearBackward(c.headNorm ? c.headNorm.y : c.heads, w("attn.out_proj.weight"), dx1, N, D, D, false);
  grads[`${p}.attn.out_proj.weight`] = out.dW;
  let dq: T, dk: T, dv: T;
  if (c.lse) {
    ({ dq, dk, dv } = attentionBackward(c.qr, c.kr, c.v, c.heads, c.lse, out.dx, B, L, H, hd));
  } else {
    const headNorm = rmsnormBackward(c.heads, w("attn.rms_norm.weight"), c.headNorm!.rstd, out.dx, N, D);
    grads[`${p}.attn.rms_norm.weight`] = headNorm.dw;
    ({ dq, dk, dv } = linearAttentionBackward(c.qr, c.kr, c.v, headNorm.dx, B, L, H, hd, alibiSlopes(H)));
  }
  // q, k, v = projections of norm1(x); RoPE on q and k.
  const qProj = linearBackward(c.norm1.y, w("attn.q_proj.weight"), ropeBackward(dq, B, L, H, hd), N, D, D, false);
  const kProj = linearBackward(c.norm1.y, w("attn.k_proj.weight"), ropeBackward(dk, B, L, H, hd), N, D, D, false);
  const vProj = linearBackward(c.norm1.y, w("attn.v_proj.weight"), dv, N, D, D, false);
  grads[`${p}.attn.q_proj.weight`] = qProj.dW;
  grads[`${p}.attn.k_proj.weight`] = kProj.dW;
  grads[`${p}.attn.v_proj.weight`] = vProj.dW;
  const norm1 = rmsnormBackward(c.x, w("norm1.weight"), c.norm1.rstd, add(add(qProj.dx, kProj.dx), vProj.dx), N, D);
  grads[`${p}.norm1.weight`] = norm1.dw;
  return add(dx1, norm1.dx);
}

/** One level's stack of blocks: output and the caches, first block first. */
interface LevelRun<T extends FloatArray> { y: T; caches: BlockCache<T>[] }

function levelForward<T extends FloatArray>(
  config: ModelConfig, params: Params<T>, specs: BlockSpec[], x: T, B: number, L: number,
): LevelRun<T> {
  const caches: BlockCache<T>[] = [];
  for (const spec of specs) {
    const block = blockForward(config, params, spec, x, B, L);
    caches.push(block.cache);
    x = block.y;
  }
  return { y: x, caches };
}

function levelBackward<T extends FloatArray>(
  config: ModelConfig, params: Params<T>, specs: BlockSpec[], run: LevelRun<T>, dy: T, B: number, L: number,
  grads: Params<T>,
): T {
  for (let i = specs.length - 1; i >= 0; i--) dy = blockBackward(config, params, specs[i], run.caches[i], dy, B, L, grads);
  return dy;
}

/** Forward keeping every activation the backward needs. */
function forwardWithTape<T extends FloatArray>(
  config: ModelConfig, params: Params<T>, tokens: ArrayLike<number>, B: number, L: number,
) {
  check(L % (FACTOR * FACTOR) === 0, `model: length ${L} is not a multiple of 9`);
  check(tokens.length === B * L, `model: ${tokens.length} tokens for B=${B}, L=${L}`);
  const { dim: D, vocab: V } = config;
  const L1 = L / FACTOR, L2 = L1 / FACTOR;
  const levels = blockSpecs(config);
  const skipWeights = param(params, "skip_weights2");
  const embedded = embeddingForward(tokens, param(params, "embedding.weight"), V, D);
  const norm = rmsnormForward(embedded, param(params, "norm.weight"), B * L, D);
  const enc0 = levelForward(config, params, levels[0], norm.y, B, L);
  const enc1 = levelForward(config, params, levels[1], avgpool3Forward(enc0.y, B, L, D), B, L1);
  const bott = levelForward(config, params, levels[2], avgpool3Forward(enc1.y, B, L1, D), B, L2);
  const up0 = shiftForward(upsample3Forward(bott.y, B, L2, D), B, L1, D);
  const dec0 = levelForward(config, params, levels[3], skipAddForward(up0, enc1.y, skipWeights[0]), B, L1);
  const up1 = shiftForward(upsample3Forward(dec0.y, B, L1, D), B, L, D);
  const dec1 = levelForward(config, params, levels[4], skipAddForward(up1, enc0.y, skipWeights[1]), B, L);
  const logits = linearForward(dec1.y, param(params, "output_proj.weight"), param(params, "output_proj.bias"), B * L, D, V);
  return { logits, embedded, norm, enc0, enc1, bott, up0, dec0, up1, dec1 };
}

/** logits [B, L, vocab] for tokens [B, L]. Runs in the array type of the params (f32 or f64). */
export function forward<T extends FloatArray>(
  config: ModelConfig, params: Params<T>, tokens: ArrayLike<number>, B: number, L: number,
): T {
  return forwardWithTape(config, params, tokens, B, L).logits;
}

/**
 * The training loss (mean cross-entropy of logits[:, 8:-1] against tokens[:, 9:], pad ignored) and
 * the gradient of that mean w.r.t. every parameter, keyed like `params`. Also lossSum, the count of
 * non-pad targets and how many of them the argmax got right.
 */
export function lossAndGrads<T extends FloatArray>(
  config: ModelConfig, params: Params<T>, tokens: ArrayLike<number>, B: number, L: number,
): { loss: number; lossSum: number; count: number; correct: number; grads: Params<T> } {
  const { dim: D, vocab: V } = config;
  const L1 = L / FACTOR, L2 = L1 / FACTOR;
  const levels = blockSpecs(config);
  const t = forwardWithTape(config, params, tokens, B, L);
  const ce = crossEntropy(t.logits, lossTargets(tokens, B, L), B * L, V);
  const grads: Params<T> = {};
  const skipWeights = param(params, "skip_weights2");

  const head = linearBackward(t.dec1.y, param(params, "output_proj.weight"), ce.dlogits, B * L, D, V, true);
  grads["output_proj.weight"] = head.dW;
  grads["output_proj.bias"] = head.db!;
  let d = levelBackward(config, params, levels[4], t.dec1, head.dx, B, L, grads);
  const skip1 = skipAddBackward(t.up1, skipWeights[1], d);
  d = upsample3Backward(shiftBackward(skip1.dx, B, L, D), B, L1, D);
  d = levelBackward(config, params, levels[3], t.dec0, d, B, L1, grads);
  const skip0 = skipAddBackward(t.up0, skipWeights[0], d);
  d = upsample3Backward(shiftBackward(skip0.dx, B, L1, D), B, L2, D);
  d = levelBackward(config, params, levels[2], t.bott, d, B, L2, grads);
  d = add(avgpool3Backward(d, B, L1, D), skip0.dskip); // enc1's output feeds the pool and skip1
  d = levelBackward(config, params, levels[1], t.enc1, d, B, L1, grads);
  d = add(avgpool3Backward(d, B, L, D), skip1.dskip); // enc0's output feeds the pool and skip0
  d = levelBackward(config, params, levels[0], t.enc0, d, B, L, grads);
  const norm = rmsnormBackward(t.embedded, param(params, "norm.weight"), t.norm.rstd, d, B * L, D);
  grads["norm.weight"] = norm.dw;
  grads["embedding.weight"] = embeddingBackward(tokens, norm.dx, V, D);
  const dSkip = zerosLike(skipWeights, 2);
  dSkip[0] = skip0.dw;
  dSkip[1] = skip1.dw;
  grads["skip_weights2"] = dSkip;
  return { loss: ce.lossSum / ce.count, lossSum: ce.lossSum, count: ce.count, correct: ce.correct, grads };
}
