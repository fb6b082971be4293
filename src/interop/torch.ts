/**
 * PyTorch checkpoints (`torch.save`'s zip format, PyTorch ≥ 1.6) without Python.
 *
 * The container is a zip of STORED entries under one archive folder: `<archive>/data.pkl` (the
 * pickled object), `<archive>/data/<key>` (one raw storage per key), `<archive>/byteorder` and
 * `<archive>/version`. In the pickle a tensor is `torch._utils._rebuild_tensor_v2(storage,
 * offset, size, stride, requires_grad, hooks)` whose storage is a persistent id
 * `("storage", torch.FloatStorage, key, location, numel)`; a state dict is an OrderedDict.
 * (`_rebuild_tensor_v3` instead names the dtype beside a `torch.UntypedStorage` of bytes.)
 *
 * Reading goes through the safe pickle reader: nothing is executed, and the only globals allowed
 * are torch's tensor/storage rebuilders, storage classes, dtypes, OrderedDict and torch.Size,
 * plus the reader's default data-only ones (numpy arrays and scalars, bytes, sets). Storages are
 * read from the file only when a tensor's values are asked for, so taking the model weights out
 * of a checkpoint that also holds optimizer state never reads the optimizer's tensors.
 */
import { basename } from "node:path";
import { z } from "zod";
import { type PickleGlobal, PyGlobal, readPickle } from "../data/pickle.ts";
import type { IFlameConfig } from "../model/config.ts";
import { paramSpecs } from "../model/params.ts";
import { PyCall, PyGlobalRef, PyPersistentId, type PyValue, PyFloat, writePickle } from "./pickle-writer.ts";
import { oneLine } from "../util/text.ts";
import { halfToFloat } from "./safetensors.ts";
import { type ByteSource, bytesSource, fileSource, writeStoredZip, ZipReader } from "./zip.ts";

export type TorchDtype = "float32" | "float64" | "float16" | "bfloat16" | "int64" | "int32" | "int16" | "int8" | "uint8" | "bool";

/** Byte size and the legacy storage class torch pickles for each dtype. */
const DTYPES: Record<TorchDtype, { size: number; storage: string; float: boolean }> = {
  float32: { size: 4, storage: "FloatStorage", float: true },
  float64: { size: 8, storage: "DoubleStorage", float: true },
  float16: { size: 2, storage: "HalfStorage", float: true },
  bfloat16: { size: 2, storage: "BFloat16Storage", float: true },
  int64: { size: 8, storage: "LongStorage", float: false },
  int32: { size: 4, storage: "IntStorage", float: false },
  int16: { size: 2, storage: "ShortStorage", float: false },
  int8: { size: 1, storage: "CharStorage", float: false },
  uint8: { size: 1, storage: "ByteStorage", float: false },
  bool: { size: 1, storage: "BoolStorage", float: false },
};
const DTYPE_NAMES = Object.keys(DTYPES) as TorchDtype[];
const STORAGE_DTYPE = new Map(DTYPE_NAMES.map((d) => [`torch.${DTYPES[d].storage}`, d]));
/** Newer tensors (_rebuild_tensor_v3) reference an untyped byte storage and name the dtype beside it. */
const UNTYPED_STORAGES = new Set(["torch.UntypedStorage", "torch.storage.UntypedStorage"]);

/**
 * One `<archive>/data/<key>` entry, typed by the tensors that view it. Its bytes are read (and
 * CRC-checked) on each use and not kept: a converted model then holds only its f32 copy.
 */
export class TorchStorage {
  constructor(readonly key: string, readonly dtype: TorchDtype | "untyped", readonly byteLength: number, readonly data: () => Uint8Array) {}
}

/** A tensor as pickled: a strided view (shape, stride, offset in elements) of a storage. */
export class TorchTensor {
  constructor(
    readonly storage: TorchStorage, readonly dtype: TorchDtype, readonly shape: number[], readonly stride: number[],
    readonly offset: number, private readonly littleEndian: boolean, private readonly file: string,
  ) {}

  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  get floating(): boolean {
    return DTYPES[this.dtype].float;
  }

  /** The values in C order as f32 (f16, bf16 and f64 are converted), whatever the strides. */
  toFloat32(): Float32Array {
    if (!this.floating) throw new Error(`${this.file}: tensor of dtype ${this.dtype} read as floating point`);
    const bytes = this.storage.data();
    if (this.dtype === "float32" && this.littleEndian && this.contiguous()) {
      return new Float32Array(bytes.slice(4 * this.offset, 4 * (this.offset + this.size)).buffer);
    }
    const out = new Float32Array(this.size);
    const read = elementReader(this.dtype, bytes, this.littleEndian);
    this.forEachElement((i, at) => { out[i] = read(at) as number; });
    return out;
  }

  /** The values in C order as int64, for integer and bool tensors (e.g. step counters). */
  toBigInt64(): BigInt64Array {
    if (this.floating) throw new Error(`${this.file}: tensor of dtype ${this.dtype} read as integer`);
    const out = new BigInt64Array(this.size);
    const read = elementReader(this.dtype, this.storage.data(), this.littleEndian);
    this.forEachElement((i, at) => { out[i] = BigInt(read(at)); });
    return out;
  }

  private contiguous(): boolean {
    let expected = 1;
    for (let k = this.shape.length - 1; k >= 0; k--) {
      if (this.shape[k] !== 1 && this.stride[k] !== expected) return false;
      expected *= this.shape[k];
    }
    return true;
  }

  /** Calls fn(index in C order, storage element index) for every element. */
  private forEachElement(fn: (i: number, at: number) => void): void {
    const n = this.size;
    const index = this.shape.map(() => 0);
    let at = this.offset;
    for (let i = 0; i < n; i++) {
      fn(i, at);
      for (let k = this.shape.length - 1; k >= 0; k--) {
        at += this.stride[k];
        if (++index[k] < this.shape[k]) break;
        at -= this.stride[k] * this.shape[k];
        index[k] = 0;
      }
    }
  }
}

function elementReader(dtype: TorchDtype, bytes: Uint8Array, le: boolean): (at: number) => number | bigint {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bf16 = new Float32Array(1);
  const bf16Bits = new Uint32Array(bf16.buffer);
  switch (dtype) {
    case "float32": return (at) => v.getFloat32(4 * at, le);
    case "float64": return (at) => v.getFloat64(8 * at, le);
    case "float16": return (at) => halfToFloat(v.getUint16(2 * at, le));
    case "bfloat16": return (at) => { bf16Bits[0] = v.getUint16(2 * at, le) << 16; return bf16[0]; };
    case "int64": return (at) => v.getBigInt64(8 * at, le);
    case "int32": return (at) => v.getInt32(4 * at, le);
    case "int16": return (at) => v.getInt16(2 * at, le);
    case "int8": return (at) => v.getInt8(at);
    case "uint8": return (at) => v.getUint8(at);
    case "bool": return (at) => (v.getUint8(at) ? 1 : 0);
  }
}

/** An OrderedDict; BUILD gives it the state dict's `_metadata` (module versions), which we do not need. */
class PyOrderedDict extends Map<unknown, unknown> {
  __setstate__(): void {}
}

const StoragePid = z.tuple([z.literal("storage"), z.instanceof(PyGlobal), z.string(), z.string(), z.number().int().nonnegative()]);
const Dims = z.array(z.number().int().nonnegative());

/** A torch.save zip opened for reading: `root` is the unpickled object with TorchTensor leaves. */
export class TorchArchive {
  readonly root: unknown;
  private readonly storages = new Map<string, TorchStorage>();
  private readonly zip: ZipReader;
  private readonly prefix: string;
  private readonly littleEndian: boolean;

  private constructor(private readonly source: ByteSource, readonly file: string) {
    try {
      this.zip = openZip(source, file);
      const pickles = [...this.zip.entries.keys()].filter((name) => /^[^/]+\/data\.pkl$/.test(name));
      if (pickles.length !== 1) throw new Error(`${file}: not a torch.save archive (expected one <archive>/data.pkl, found ${pickles.length})`);
      this.prefix = pickles[0].slice(0, -"data.pkl".length);
      this.littleEndian = this.byteOrder() === "little";
      this.root = readPickle(this.zip.read(pickles[0]), {
        globals: this.globals(),
        persistentLoad: (pid) => this.storage(pid),
        source: `${file} (${pickles[0]})`,
      });
    } catch (e) {
      source.close();
      throw e;
    }
  }

  static open(path: string): TorchArchive {
    return new TorchArchive(fileSource(path), path);
  }

  static fromBytes(bytes: Uint8Array, file: string): TorchArchive {
    return new TorchArchive(bytesSource(bytes), file);
  }

  /** Closes the file; tensors not yet read can no longer be. */
  close(): void {
    this.source.close();
  }

  private byteOrder(): "little" | "big" {
    const name = `${this.prefix}byteorder`;
    if (!this.zip.entries.has(name)) return "little"; // archives before byteorder existed were little-endian
    const order = new TextDecoder().decode(this.zip.read(name));
    if (order !== "little" && order !== "big") throw new Error(`${this.file}: ${name} is '${order}', not 'little' or 'big'`);
    return order;
  }

  private storage(pid: unknown): TorchStorage {
    const parsed = StoragePid.safeParse(pid);
    // The pickle reader does not wrap persistent_load errors, so these name the file themselves.
    if (!parsed.success) throw new Error(`${this.file}: persistent id is not ("storage", <storage class>, key, location, numel)`);
    const [, cls, key, , numel] = parsed.data;
    const dtype = UNTYPED_STORAGES.has(cls.qualifiedName) ? "untyped" : STORAGE_DTYPE.get(cls.qualifiedName);
    if (!dtype) throw new Error(`${this.file}: persistent id names ${cls.qualifiedName}, which is not a storage class`);
    const cached = this.storages.get(key);
    if (cached) return cached;
    const name = `${this.prefix}data/${key}`;
    const entry = this.zip.entries.get(name);
    const byteLength = numel * (dtype === "untyped" ? 1 : DTYPES[dtype].size);
    if (!entry) throw new Error(`${this.file}: storage ${key} has no entry ${name}`);
    if (entry.size !== byteLength) throw new Error(`${this.file}: storage ${key} (${numel} × ${dtype}) needs ${byteLength} bytes but ${name} has ${entry.size}`);
    const storage = new TorchStorage(key, dtype, byteLength, () => this.zip.read(name));
    this.storages.set(key, storage);
    return storage;
  }

  /** _rebuild_tensor_v2(storage, offset, size, stride, …); v3 adds the dtype as its 7th argument. */
  private rebuildTensor(args: unknown[], v3: boolean): TorchTensor {
    const [storage, offset, size, stride] = args;
    if (!(storage instanceof TorchStorage)) throw new Error("the first argument is not a storage");
    const shape = Dims.safeParse(size);
    const strides = Dims.safeParse(stride);
    if (!shape.success || !strides.success || shape.data.length !== strides.data.length) throw new Error("size and stride are not tuples of the same length");
    if (typeof offset !== "number" || !Number.isInteger(offset) || offset < 0) throw new Error("storage offset is not a non-negative integer");
    let dtype: TorchDtype;
    const dtypeArg = args[6];
    if (!v3) {
      if (storage.dtype === "untyped") throw new Error("an untyped storage needs _rebuild_tensor_v3's dtype");
      dtype = storage.dtype;
    } else {
      if (!(dtypeArg instanceof PyGlobal) || !DTYPE_NAMES.includes(dtypeArg.name as TorchDtype)) throw new Error("dtype argument is not a torch dtype");
      dtype = dtypeArg.name as TorchDtype;
      if (storage.dtype !== "untyped" && storage.dtype !== dtype) throw new Error(`a ${dtype} tensor over a ${storage.dtype} storage`);
    }
    const elements = storage.byteLength / DTYPES[dtype].size;
    const empty = shape.data.some((d) => d === 0);
    const last = offset + shape.data.reduce((sum, d, k) => sum + (d - 1) * strides.data[k], 0);
    if (!empty && last >= elements) throw new Error(`tensor [${shape.data}] stride [${strides.data}] offset ${offset} reaches element ${last} of a storage of ${elements}`);
    // Reading a view copies it: a stride-0 view of a tiny storage would grow past any memory.
    const values = shape.data.reduce((a, b) => a * b, 1);
    if (values > elements) throw new Error(`tensor [${shape.data}] stride [${strides.data}] holds ${values} values, more than its storage's ${elements} (broadcast views are not read)`);
    return new TorchTensor(storage, dtype, shape.data, strides.data, offset, this.littleEndian, this.file);
  }

  private globals(): Record<string, PickleGlobal> {
    const tag = (name: string): PickleGlobal => () => {
      throw new Error(`${name} may only appear as a tag (storage class or dtype), not be called`);
    };
    const tensorArg = (fn: string): PickleGlobal => ([tensor]) => {
      if (!(tensor instanceof TorchTensor)) throw new Error(`${fn} needs a tensor`);
      return tensor;
    };
    const globals: Record<string, PickleGlobal> = {
      "torch._utils._rebuild_tensor_v2": (args) => this.rebuildTensor(args, false),
      "torch._utils._rebuild_tensor_v3": (args) => this.rebuildTensor(args, true),
      "torch._utils._rebuild_parameter": tensorArg("_rebuild_parameter"),
      "torch._utils._rebuild_parameter_with_state": tensorArg("_rebuild_parameter_with_state"),
      "collections.OrderedDict": () => new PyOrderedDict(),
      "torch.Size": ([dims]) => dims,
    };
    for (const name of [...STORAGE_DTYPE.keys(), ...UNTYPED_STORAGES, ...DTYPE_NAMES.map((d) => `torch.${d}`)]) globals[name] = tag(name);
    return globals;
  }
}

function openZip(source: ByteSource, file: string): ZipReader {
  try {
    return new ZipReader(source, file);
  } catch (e) {
    // torch.save before 1.6 wrote a bare pickle stream (it starts with the pickle PROTO opcode).
    if (source.size > 0 && source.read(0, 1)[0] === 0x80) throw new Error(`${file}: legacy (pre-1.6) torch.save format; load and re-save it with a current PyTorch`);
    throw e;
  }
}

/**
 * The model weights of a checkpoint: a bare state dict, or the `model_state_dict` of a training
 * checkpoint dict (the reference saves epoch, model/optimizer/scaler state, loss, data_iter_step),
 * with `_orig_mod.` (torch.compile) and `module.` (DDP) prefixes removed.
 */
export function modelStateDict(root: unknown, file: string): Map<string, TorchTensor> {
  const dict = root instanceof Map && root.has("model_state_dict") ? root.get("model_state_dict") : root;
  const isStateDict = dict instanceof Map && dict.size > 0 && [...dict].every(([k, v]) => typeof k === "string" && v instanceof TorchTensor);
  if (!isStateDict) {
    const keys = root instanceof Map ? ` (its keys: ${oneLine([...root.keys()].slice(0, 10).join(", "), 300)})` : "";
    throw new Error(`${file}: no model weights: expected a state dict of tensors or a dict with 'model_state_dict'${keys}`);
  }
  return stripPrefixes(dict as Map<string, TorchTensor>, file);
}

const WRAPPER_PREFIXES = ["_orig_mod.", "module."];

export function stripPrefixes<T>(dict: Map<string, T>, file: string): Map<string, T> {
  const out = new Map<string, T>();
  for (const [key, value] of dict) {
    let name = key;
    for (let p; (p = WRAPPER_PREFIXES.find((prefix) => name.startsWith(prefix)));) name = name.slice(p.length);
    if (out.has(name)) throw new Error(`${file}: two entries become '${name}' once wrapper prefixes are removed`);
    out.set(name, value);
  }
  return out;
}

/** Throws, naming the file, unless `shapes` has exactly the config's parameters with their shapes. */
export function checkStateDict(shapes: Map<string, number[]>, config: IFlameConfig, file: string): void {
  const specs = paramSpecs(config);
  const expected = new Set(specs.map((s) => s.name));
  const missing = specs.filter((s) => !shapes.has(s.name)).map((s) => s.name);
  const extra = [...shapes.keys()].filter((name) => !expected.has(name));
  const wrong = specs
    .filter((s) => shapes.has(s.name) && shapes.get(s.name)!.join(",") !== s.shape.join(","))
    .map((s) => `${s.name} [${shapes.get(s.name)}] (expected [${s.shape}])`);
  const problems = [list("missing", missing), list("unexpected", extra), list("wrong shape", wrong)].filter(Boolean);
  if (problems.length) throw new Error(`${file}: weights do not match the model (dim ${config.dim}, blocks [${config.blocksPerLevel}], fullPeriod ${config.fullPeriod}): ${problems.join("; ")}`);
}

function list(what: string, names: string[], shown = 8): string {
  if (!names.length) return "";
  const more = names.length > shown ? `, … ${names.length - shown} more` : "";
  return `${names.length} ${what}: ${names.slice(0, shown).join(", ")}${more}`;
}

export interface TorchWriteOptions {
  /** The archive folder inside the zip; torch uses the file's base name. */
  archiveName: string;
  /**
   * "state-dict": a bare OrderedDict (`model.load_state_dict(torch.load(f), strict=True)`).
   * "reference": the dict the reference's training saves and its test.py loads (keys
   * `_orig_mod.`-prefixed as from its compiled model, a default GradScaler state, epoch).
   */
  layout?: "state-dict" | "reference";
  epoch?: number;
}

const G = (module: string, name: string) => new PyGlobalRef(module, name);
const ORDERED_DICT = G("collections", "OrderedDict");

/** The archive folder name torch would use for a file: its base name without the extension. */
export function archiveNameFor(path: string): string {
  return basename(path).replace(/\.[^.]*$/, "").replace(/[^A-Za-z0-9_.-]/g, "_") || "archive";
}

/** A .pth zip as torch.save writes it: protocol-2 pickle, one f32 storage per tensor, little-endian. */
export function encodeTorchCheckpoint(tensors: [string, { shape: number[]; data: Float32Array }][], options: TorchWriteOptions): Uint8Array {
  const prefix = options.layout === "reference" ? "_orig_mod." : "";
  const entries = new Map<string, PyValue>();
  const storages: { name: string; data: Uint8Array }[] = [];
  tensors.forEach(([name, t], i) => {
    if (t.shape.reduce((a, b) => a * b, 1) !== t.data.length) throw new Error(`${name}: shape [${t.shape}] does not hold ${t.data.length} values`);
    const strides = t.shape.map((_, k) => t.shape.slice(k + 1).reduce((a, b) => a * b, 1));
    const storage = new PyPersistentId(["storage", G("torch", "FloatStorage"), String(i), "cpu", t.data.length]);
    entries.set(prefix + name, new PyCall(G("torch._utils", "_rebuild_tensor_v2"), [storage, 0, t.shape, strides, false, new PyCall(ORDERED_DICT, [])]));
    storages.push({ name: `${options.archiveName}/data/${i}`, data: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength) });
  });
  const stateDict = new PyCall(ORDERED_DICT, [], entries);
  const root: PyValue = options.layout === "reference"
    ? new Map<string, PyValue>([
      ["epoch", options.epoch ?? 0],
      ["model_state_dict", stateDict],
      // GradScaler.state_dict() defaults: test.py calls scaler.load_state_dict on it.
      ["scaler_state_dict", new Map<string, PyValue>([
        ["scale", new PyFloat(65536)], ["growth_factor", new PyFloat(2)], ["backoff_factor", new PyFloat(0.5)],
        ["growth_interval", 2000], ["_growth_tracker", 0],
      ])],
      ["data_iter_step", 0],
    ])
    : stateDict;
  const text = (s: string) => new TextEncoder().encode(s);
  return writeStoredZip([
    { name: `${options.archiveName}/data.pkl`, data: writePickle(root) },
    { name: `${options.archiveName}/byteorder`, data: text("little") },
    ...storages,
    { name: `${options.archiveName}/version`, data: text("3\n") },
  ]);
}
