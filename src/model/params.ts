/**
 * The network's parameters, defined once: one table of names (exactly the reference's state
 * dict, in its order), shapes and initialisation, and the typed records that resolve those names
 * once — per block and for the whole model — over any storage (GPU tensors, their gradients, CPU
 * arrays). Linear weights are stored [out, in].
 */
import { uniform01, normal } from "../util/rng.ts";
import { hiddenDim, type Network } from "./config.ts";

export interface BlockSpec {
  /** State-dict prefix, e.g. "encoder_blocks.1.3" or "bottleneckd.0". */
  prefix: string;
  /** 1-based position in the whole stack. */
  number: number;
  /** Full softmax attention, else decayed linear attention (which has attn.rms_norm.weight). */
  full: boolean;
}

/**
 * The blocks of each level [enc0, enc1, bottleneck, dec0, dec1]. Block n (1-based, numbered
 * through the levels in that order) is full attention iff n % fullPeriod == 0. The reference
 * splits the bottleneck into `bottlenecke` (first half) and `bottleneckd` (second half), 4 + 4 for
 * ShapeNet; an odd count puts the extra block in bottlenecke.
 */
export function blockSpecs(network: Pick<Network, "blocksPerLevel" | "fullPeriod">): BlockSpec[][] {
  const [enc0, enc1, bott, dec0, dec1] = network.blocksPerLevel;
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
    return { prefix, number, full: number % network.fullPeriod === 0 };
  }));
}

/**
 * One block's parameters: x = x + out(headNorm?(Attn(rope(q·norm1(x)), rope(k·…), v·…)));
 * x = x + w3·(silu(w1·norm2(x) + b1) * (w2·norm2(x) + b2)) + b3. headNorm (the RMSNorm over the
 * concatenated heads) exists in linear-attention blocks only.
 */
export interface BlockWeights<T> {
  spec: BlockSpec;
  norm1: T;
  q: T;
  k: T;
  v: T;
  out: T;
  headNorm: T | null;
  norm2: T;
  w1: T;
  b1: T;
  w2: T;
  b2: T;
  w3: T;
  b3: T;
}

/** Every parameter of the model, resolved: the hourglass's own and each level's blocks. */
export interface ModelWeights<T> {
  /** skip_weights2: the learned factors of the two upsampled skip joins. */
  skipWeights: T;
  embedding: T;
  /** The RMSNorm after the embedding (the reference's `norm`; there is no final norm). */
  norm: T;
  outputWeight: T;
  outputBias: T;
  /** [enc0, enc1, bottleneck, dec0, dec1], each its blocks in order. */
  levels: BlockWeights<T>[][];
}

/** A parameter's name, shape and PyTorch-default initialisation ("uniform" is U(−bound, bound)). */
export interface ParamSpec {
  name: string;
  shape: number[];
  init: "ones" | "normal" | "uniform";
  bound: number;
}

type BlockKey = Exclude<keyof BlockWeights<unknown>, "spec">;
type ModelKey = Exclude<keyof ModelWeights<unknown>, "levels">;

/** A table row: the record field a parameter fills, and the parameter. */
interface Row<K> extends ParamSpec {
  key: K;
}

const ones = <K>(key: K, name: string, n: number): Row<K> => ({ key, name, shape: [n], init: "ones", bound: 0 });
// nn.Linear's default: weight [out, in] and bias [out] both U(±1/√in).
const weight = <K>(key: K, name: string, out: number, inF: number): Row<K> => ({ key, name, shape: [out, inF], init: "uniform", bound: 1 / Math.sqrt(inF) });
const bias = <K>(key: K, name: string, out: number, inF: number): Row<K> => ({ key, name, shape: [out], init: "uniform", bound: 1 / Math.sqrt(inF) });

/** One block's parameters in the reference's state-dict order. */
function blockRows(spec: BlockSpec, network: Network): Row<BlockKey>[] {
  const D = network.dim, hidden = hiddenDim(network), p = spec.prefix;
  return [
    weight("q", `${p}.attn.q_proj.weight`, D, D),
    weight("k", `${p}.attn.k_proj.weight`, D, D),
    weight("v", `${p}.attn.v_proj.weight`, D, D),
    weight("out", `${p}.attn.out_proj.weight`, D, D),
    ...(spec.full ? [] : [ones<BlockKey>("headNorm", `${p}.attn.rms_norm.weight`, D)]),
    weight("w1", `${p}.feed_forward.proj1.weight`, hidden, D),
    bias("b1", `${p}.feed_forward.proj1.bias`, hidden, D),
    weight("w2", `${p}.feed_forward.proj2.weight`, hidden, D),
    bias("b2", `${p}.feed_forward.proj2.bias`, hidden, D),
    weight("w3", `${p}.feed_forward.proj3.weight`, D, hidden),
    bias("b3", `${p}.feed_forward.proj3.bias`, D, hidden),
    ones("norm1", `${p}.norm1.weight`, D),
    ones("norm2", `${p}.norm2.weight`, D),
  ];
}

/** The model's own parameters, before and after the blocks in the reference's state dict. */
function modelRows(network: Network): { before: Row<ModelKey>[]; after: Row<ModelKey>[] } {
  const { dim: D, vocab: V } = network;
  return {
    before: [ones<ModelKey>("skipWeights", "skip_weights2", 2), { key: "embedding", name: "embedding.weight", shape: [V, D], init: "normal", bound: 0 }],
    after: [weight("outputWeight", "output_proj.weight", V, D), bias("outputBias", "output_proj.bias", V, D), ones("norm", "norm.weight", D)],
  };
}

/** Every parameter, in the reference's state-dict order: the parameter table. */
export function paramSpecs(network: Network): ParamSpec[] {
  const { before, after } = modelRows(network);
  const blocks = blockSpecs(network).flat().flatMap((spec) => blockRows(spec, network));
  return [...before, ...blocks, ...after].map(({ name, shape, init, bound }) => ({ name, shape, init, bound }));
}

/**
 * The typed records of every parameter, each looked up once by its state-dict name:
 * `resolveWeights(network, (name) => tensors.get(name)!)`.
 */
export function resolveWeights<T>(network: Network, lookup: (name: string) => T): ModelWeights<T> {
  const { before, after } = modelRows(network);
  const own = Object.fromEntries([...before, ...after].map((row) => [row.key, lookup(row.name)])) as Record<ModelKey, T>;
  const levels = blockSpecs(network).map((specs) => specs.map((spec): BlockWeights<T> => {
    const block = Object.fromEntries(blockRows(spec, network).map((row) => [row.key, lookup(row.name)])) as Record<BlockKey, T>;
    return { spec, ...block, headNorm: spec.full ? null : block.headNorm };
  }));
  return { ...own, levels };
}

/** Parameters keyed by the reference's state-dict names, each row-major. */
export type StateDict<T = Float32Array> = Record<string, T>;

/**
 * Deterministic initial parameters (f32): PyTorch's default shapes and distributions (Linear
 * U(±1/√in), Embedding N(0, 1), norms and skip weights 1), drawn from uniform01(seed, counter)
 * with one running counter over the table's order. Not torch's bits, only its distributions.
 */
export function initParams(network: Network, seed: number): StateDict {
  const params: StateDict = {};
  let counter = 0;
  for (const spec of paramSpecs(network)) {
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
