import { hiddenDim, type Network } from "../model/config.ts";
import { FACTOR } from "../model/levels.ts";
import { type BlockWeights, type ModelWeights, type StateDict, resolveWeights } from "../model/params.ts";
import { alibiSlopes } from "../model/tables.ts";
import { type FloatArray, add, check, zerosLike } from "./array.ts";
import { attentionBackward, attentionForward } from "./attention.ts";
import { crossEntropy, lossTargets } from "./cross-entropy.ts";
import { embeddingBackward, embeddingForward } from "./embedding.ts";
import {
  avgpool3Backward, avgpool3Forward, shiftBackward, shiftForward, skipAddBackward, skipAddForward, upsample3Backward,
  upsample3Forward,
} from "./hourglass.ts";
import { linearAttentionBackward, linearAttentionForward } from "./linear-attention.ts";
import { linearBackward, linearForward } from "./matmul.ts";
import { rmsnormBackward, rmsnormForward } from "./rmsnorm.ts";
import { ropeBackward, ropeForward } from "./rope.ts";
import { type FeedForwardCache, feedForwardBackward, feedForwardForward } from "./swiglu.ts";

/**
 * The whole iFlame network on the CPU (reference: transformer.py, class iFlame), forward and a full
 * backward built from the module backwards: the definition of src/model (config, parameter table,
 * hourglass) in the array type of the params, f64 for tests. Activations are [B, L, D]; L must be
 * a multiple of 9. The wiring is src/model/hourglass.ts's; every block:
 *   x = x + Attn(norm1(x)); x = x + FeedForward(norm2(x)).
 */

/** Parameters keyed by the reference's state-dict names, each stored row-major (Linear weights [out, in]). */
export type Params<T extends FloatArray = FloatArray> = StateDict<T>;

/** Every parameter's array, resolved once; throws naming the first one missing. */
function weightsOf<T extends FloatArray>(network: Network, params: Params<T>): ModelWeights<T> {
  return resolveWeights(network, (name) => {
    check(params[name] !== undefined, `missing parameter ${name}`);
    return params[name];
  });
}

/** The sizes every block reads. */
interface Shape {
  B: number;
  L: number;
  H: number;
  D: number;
  hidden: number;
}

const shapeOf = (network: Network, B: number, L: number): Shape => ({ B, L, H: network.heads, D: network.dim, hidden: hiddenDim(network) });

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

function blockForward<T extends FloatArray>(w: BlockWeights<T>, x: T, s: Shape): { y: T; cache: BlockCache<T> } {
  const { B, L, H, D, hidden } = s;
  const hd = D / H, N = B * L;
  const norm1 = rmsnormForward(x, w.norm1, N, D);
  const qr = ropeForward(linearForward(norm1.y, w.q, null, N, D, D), B, L, H, hd);
  const kr = ropeForward(linearForward(norm1.y, w.k, null, N, D, D), B, L, H, hd);
  const v = linearForward(norm1.y, w.v, null, N, D, D);
  let heads: T, lse: T | null = null, headNorm: { y: T; rstd: T } | null = null;
  if (w.headNorm) {
    heads = linearAttentionForward(qr, kr, v, B, L, H, hd, alibiSlopes(H));
    headNorm = rmsnormForward(heads, w.headNorm, N, D);
  } else {
    ({ o: heads, lse } = attentionForward(qr, kr, v, B, L, H, hd));
  }
  const x1 = add(x, linearForward(headNorm ? headNorm.y : heads, w.out, null, N, D, D));
  const norm2 = rmsnormForward(x1, w.norm2, N, D);
  const ff = feedForwardForward(norm2.y, w, N, D, hidden);
  return { y: add(x1, ff.y), cache: { x, norm1, qr, kr, v, heads, lse, headNorm, x1, norm2, ff: ff.cache } };
}

/** Backward of one block given dy; writes its parameter gradients into `g`, returns dx. */
function blockBackward<T extends FloatArray>(w: BlockWeights<T>, g: BlockWeights<T>, c: BlockCache<T>, dy: T, s: Shape): T {
  const { B, L, H, D, hidden } = s;
  const hd = D / H, N = B * L;
  // y = x1 + FeedForward(norm2(x1))
  const ff = feedForwardBackward(c.norm2.y, w, c.ff, dy, N, D, hidden);
  g.w1.set(ff.dw1); g.b1.set(ff.db1);
  g.w2.set(ff.dw2); g.b2.set(ff.db2);
  g.w3.set(ff.dw3); g.b3.set(ff.db3);
  const norm2 = rmsnormBackward(c.x1, w.norm2, c.norm2.rstd, ff.dx, N, D);
  g.norm2.set(norm2.dw);
  const dx1 = add(dy, norm2.dx);
  // x1 = x + out_proj(mixed heads)
  const out = linearBackward(c.headNorm ? c.headNorm.y : c.heads, w.out, dx1, N, D, D, false);
  g.out.set(out.dW);
  let dq: T, dk: T, dv: T;
  if (w.headNorm && g.headNorm && c.headNorm) {
    const headNorm = rmsnormBackward(c.heads, w.headNorm, c.headNorm.rstd, out.dx, N, D);
    g.headNorm.set(headNorm.dw);
    ({ dq, dk, dv } = linearAttentionBackward(c.qr, c.kr, c.v, headNorm.dx, B, L, H, hd, alibiSlopes(H)));
  } else {
    ({ dq, dk, dv } = attentionBackward(c.qr, c.kr, c.v, c.heads, c.lse!, out.dx, B, L, H, hd));
  }
  // q, k, v = projections of norm1(x); RoPE on q and k.
  const qProj = linearBackward(c.norm1.y, w.q, ropeBackward(dq, B, L, H, hd), N, D, D, false);
  const kProj = linearBackward(c.norm1.y, w.k, ropeBackward(dk, B, L, H, hd), N, D, D, false);
  const vProj = linearBackward(c.norm1.y, w.v, dv, N, D, D, false);
  g.q.set(qProj.dW);
  g.k.set(kProj.dW);
  g.v.set(vProj.dW);
  const norm1 = rmsnormBackward(c.x, w.norm1, c.norm1.rstd, add(add(qProj.dx, kProj.dx), vProj.dx), N, D);
  g.norm1.set(norm1.dw);
  return add(dx1, norm1.dx);
}

/** One level's stack of blocks: output and the caches, first block first. */
interface LevelRun<T extends FloatArray> { y: T; caches: BlockCache<T>[] }

function levelForward<T extends FloatArray>(blocks: BlockWeights<T>[], x: T, s: Shape): LevelRun<T> {
  const caches: BlockCache<T>[] = [];
  for (const w of blocks) {
    const block = blockForward(w, x, s);
    caches.push(block.cache);
    x = block.y;
  }
  return { y: x, caches };
}

function levelBackward<T extends FloatArray>(
  blocks: BlockWeights<T>[], grads: BlockWeights<T>[], run: LevelRun<T>, dy: T, s: Shape,
): T {
  for (let i = blocks.length - 1; i >= 0; i--) dy = blockBackward(blocks[i], grads[i], run.caches[i], dy, s);
  return dy;
}

/** Forward keeping every activation the backward needs. */
function forwardWithTape<T extends FloatArray>(
  network: Network, w: ModelWeights<T>, tokens: ArrayLike<number>, B: number, L: number,
) {
  check(L % (FACTOR * FACTOR) === 0, `model: length ${L} is not a multiple of 9`);
  check(tokens.length === B * L, `model: ${tokens.length} tokens for B=${B}, L=${L}`);
  const { dim: D, vocab: V } = network;
  const L1 = L / FACTOR, L2 = L1 / FACTOR;
  const [s0, s1, s2] = [L, L1, L2].map((n) => shapeOf(network, B, n));
  const [enc0W, enc1W, bottW, dec0W, dec1W] = w.levels;
  const embedded = embeddingForward(tokens, w.embedding, V, D);
  const norm = rmsnormForward(embedded, w.norm, B * L, D);
  const enc0 = levelForward(enc0W, norm.y, s0);
  const enc1 = levelForward(enc1W, avgpool3Forward(enc0.y, B, L, D), s1);
  const bott = levelForward(bottW, avgpool3Forward(enc1.y, B, L1, D), s2);
  const up0 = shiftForward(upsample3Forward(bott.y, B, L2, D), B, L1, D);
  const dec0 = levelForward(dec0W, skipAddForward(up0, enc1.y, w.skipWeights[0]), s1);
  const up1 = shiftForward(upsample3Forward(dec0.y, B, L1, D), B, L, D);
  const dec1 = levelForward(dec1W, skipAddForward(up1, enc0.y, w.skipWeights[1]), s0);
  const logits = linearForward(dec1.y, w.outputWeight, w.outputBias, B * L, D, V);
  return { logits, embedded, norm, enc0, enc1, bott, up0, dec0, up1, dec1, shapes: [s0, s1, s2] };
}

/** logits [B, L, vocab] for tokens [B, L]. Runs in the array type of the params (f32 or f64). */
export function forward<T extends FloatArray>(
  network: Network, params: Params<T>, tokens: ArrayLike<number>, B: number, L: number,
): T {
  return forwardWithTape(network, weightsOf(network, params), tokens, B, L).logits;
}

/**
 * The training loss (mean cross-entropy of logits[:, 8:-1] against tokens[:, 9:], pad ignored) and
 * the gradient of that mean w.r.t. every parameter, keyed like `params`. Also lossSum, the count of
 * non-pad targets and how many of them the argmax got right.
 */
export function lossAndGrads<T extends FloatArray>(
  network: Network, params: Params<T>, tokens: ArrayLike<number>, B: number, L: number,
): { loss: number; lossSum: number; count: number; correct: number; grads: Params<T> } {
  const { dim: D, vocab: V } = network;
  const L1 = L / FACTOR, L2 = L1 / FACTOR;
  const w = weightsOf(network, params);
  const grads: Params<T> = Object.fromEntries(Object.entries(params).map(([name, p]) => [name, zerosLike(p, p.length)]));
  const g = weightsOf(network, grads);
  const t = forwardWithTape(network, w, tokens, B, L);
  const [s0, s1, s2] = t.shapes;
  const ce = crossEntropy(t.logits, lossTargets(tokens, B, L), B * L, V);

  const head = linearBackward(t.dec1.y, w.outputWeight, ce.dlogits, B * L, D, V, true);
  g.outputWeight.set(head.dW);
  g.outputBias.set(head.db!);
  let d = levelBackward(w.levels[4], g.levels[4], t.dec1, head.dx, s0);
  const skip1 = skipAddBackward(t.up1, w.skipWeights[1], d);
  d = upsample3Backward(shiftBackward(skip1.dx, B, L, D), B, L1, D);
  d = levelBackward(w.levels[3], g.levels[3], t.dec0, d, s1);
  const skip0 = skipAddBackward(t.up0, w.skipWeights[0], d);
  d = upsample3Backward(shiftBackward(skip0.dx, B, L1, D), B, L2, D);
  d = levelBackward(w.levels[2], g.levels[2], t.bott, d, s2);
  d = add(avgpool3Backward(d, B, L1, D), skip0.dskip); // enc1's output feeds the pool and skip1
  d = levelBackward(w.levels[1], g.levels[1], t.enc1, d, s1);
  d = add(avgpool3Backward(d, B, L, D), skip1.dskip); // enc0's output feeds the pool and skip0
  d = levelBackward(w.levels[0], g.levels[0], t.enc0, d, s0);
  const norm = rmsnormBackward(t.embedded, w.norm, t.norm.rstd, d, B * L, D);
  g.norm.set(norm.dw);
  g.embedding.set(embeddingBackward(tokens, norm.dx, V, D));
  g.skipWeights[0] = skip0.dw;
  g.skipWeights[1] = skip1.dw;
  return { loss: ce.lossSum / ce.count, lossSum: ce.lossSum, count: ce.count, correct: ce.correct, grads };
}
