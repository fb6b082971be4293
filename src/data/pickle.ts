/**
 * A safe reader for Python pickles (protocols 2–5). Pickle is a small stack machine whose
 * GLOBAL + REDUCE opcodes can call any importable Python function; here nothing is ever
 * executed: GLOBAL looks the name up in an allow-list of JS functions and any other name is an
 * error. The default list rebuilds numpy arrays, dtypes and scalars (numpy 1.x `numpy.core` and
 * 2.x `numpy._core` names) and the builtins protocol 2 needs for bytes, sets and bytearrays;
 * callers add their own (e.g. torch checkpoint rebuilders) through
 * `options.globals`, and `options.persistentLoad` for persistent ids.
 *
 * Python values map to: None → null, bool → boolean, int → number (bigint beyond 2^53),
 * float → number, str → string, bytes/bytearray → Uint8Array, list/tuple → Array, dict → Map,
 * set/frozenset → Set, numpy.ndarray → NdArray (C order, native typed array).
 */

import { oneLine } from "../util/text.ts";

/** A reconstructor for one allowed global, called by REDUCE / NEWOBJ with positional args. */
export type PickleGlobal = (args: unknown[]) => unknown;

export interface PickleOptions {
  /** Extra allowed globals, keyed "module.name"; they extend (or override) DEFAULT_GLOBALS. */
  globals?: Record<string, PickleGlobal>;
  /** Resolves persistent ids (PERSID / BINPERSID); without it they are an error. */
  persistentLoad?: (pid: unknown) => unknown;
  /** Names the input in errors (usually the file path). */
  source?: string;
}

/** A global the pickle named, as it sits on the stack until REDUCE / NEWOBJ calls it. */
export class PyGlobal {
  constructor(readonly module: string, readonly name: string, readonly call: PickleGlobal) {}
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

export type NumericArray = Float32Array | Float64Array | Int8Array | Int16Array | Int32Array | BigInt64Array | Uint8Array | Uint16Array | Uint32Array | BigUint64Array;

interface DtypeInfo {
  name: string;
  size: number;
  make: (buffer: ArrayBuffer) => NumericArray;
}

/** numpy type codes ("f4", "<i8", …) we can turn into typed arrays; b1 (bool) reads as uint8. */
const DTYPES: Record<string, DtypeInfo> = {
  f4: { name: "float32", size: 4, make: (b) => new Float32Array(b) },
  f8: { name: "float64", size: 8, make: (b) => new Float64Array(b) },
  i1: { name: "int8", size: 1, make: (b) => new Int8Array(b) },
  i2: { name: "int16", size: 2, make: (b) => new Int16Array(b) },
  i4: { name: "int32", size: 4, make: (b) => new Int32Array(b) },
  i8: { name: "int64", size: 8, make: (b) => new BigInt64Array(b) },
  u1: { name: "uint8", size: 1, make: (b) => new Uint8Array(b) },
  u2: { name: "uint16", size: 2, make: (b) => new Uint16Array(b) },
  u4: { name: "uint32", size: 4, make: (b) => new Uint32Array(b) },
  u8: { name: "uint64", size: 8, make: (b) => new BigUint64Array(b) },
  b1: { name: "bool", size: 1, make: (b) => new Uint8Array(b) },
};

/** numpy.dtype as pickled: REDUCE(dtype, ("f4", False, True)), then BUILD with (version, byteorder, …). */
export class NumpyDtype {
  byteOrder = "|";
  readonly info: DtypeInfo;
  constructor(readonly code: string) {
    const info = DTYPES[code.replace(/^[<>=|]/, "")];
    if (!info) throw new Error(`numpy dtype '${code}' is not supported (supported: ${Object.values(DTYPES).map((d) => d.name).join(", ")})`);
    this.info = info;
    if (/^[<>=|]/.test(code)) this.byteOrder = code[0];
  }
  __setstate__(state: unknown): void {
    if (!Array.isArray(state) || typeof state[1] !== "string") throw new Error("numpy dtype state is not a tuple (version, byteorder, …)");
    this.byteOrder = state[1];
  }
  get bigEndian(): boolean {
    return this.byteOrder === ">";
  }
}

/** A numpy array, always handed out in C (row-major) order. */
export class NdArray {
  dtype = "";
  shape: number[] = [];
  data: NumericArray = new Float32Array(0);

  /** ndarray.__setstate__: (version, shape, dtype, is_fortran, raw) or the older 4-tuple without version. */
  __setstate__(state: unknown): void {
    if (!Array.isArray(state) || (state.length !== 5 && state.length !== 4)) throw new Error("numpy array state is not a 4- or 5-tuple");
    const [shape, dtype, fortran, raw] = state.length === 5 ? state.slice(1) : state;
    this.fill(raw, dtype, shape, fortran === true);
  }

  fill(raw: unknown, dtype: unknown, shape: unknown, fortran: boolean): void {
    if (!(dtype instanceof NumpyDtype)) throw new Error("numpy array state has no dtype");
    if (!Array.isArray(shape) || !shape.every((d) => typeof d === "number" && Number.isInteger(d) && d >= 0)) throw new Error("numpy array shape is not a tuple of sizes");
    const bytes = typeof raw === "string" ? latin1Bytes(raw) : raw; // Python 2 pickles carry the data as str
    if (!(bytes instanceof Uint8Array)) throw new Error(`numpy ${dtype.info.name} array data is not bytes (object arrays are not supported)`);
    const size = shape.reduce((a: number, b: number) => a * b, 1);
    if (bytes.length !== size * dtype.info.size) throw new Error(`numpy array of shape (${shape}) ${dtype.info.name} needs ${size * dtype.info.size} bytes, got ${bytes.length}`);
    const copy = bytes.slice(); // own, aligned buffer
    if (dtype.bigEndian) swapBytes(copy, dtype.info.size);
    const data = dtype.info.make(copy.buffer);
    this.dtype = dtype.info.name;
    this.shape = shape;
    this.data = fortran && shape.length > 1 ? fortranToC(data, shape) : data;
  }
}

function latin1Bytes(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);
}

function swapBytes(bytes: Uint8Array, size: number): void {
  for (let i = 0; i < bytes.length; i += size) bytes.subarray(i, i + size).reverse();
}

/** Reorders a column-major array into row-major: walk C order, track the Fortran offset. */
function fortranToC<T extends NumericArray>(data: T, shape: number[]): T {
  const out = new (data.constructor as new (n: number) => T)(data.length);
  const strides = shape.map((_, k) => shape.slice(0, k).reduce((a, b) => a * b, 1)); // Fortran strides
  const index = shape.map(() => 0);
  for (let c = 0; c < data.length; c++) {
    let f = 0;
    for (let k = 0; k < shape.length; k++) f += index[k] * strides[k];
    out[c] = data[f];
    for (let k = shape.length - 1; k >= 0 && ++index[k] === shape[k]; k--) index[k] = 0;
  }
  return out;
}

const isGlobal = (value: unknown, ...names: string[]): boolean => value instanceof PyGlobal && names.includes(value.qualifiedName);

const reconstruct: PickleGlobal = ([cls]) => {
  if (!isGlobal(cls, "numpy.ndarray")) throw new Error("numpy _reconstruct is only allowed for numpy.ndarray");
  return new NdArray();
};

/** Protocol 5 pickles (in band) rebuild arrays as _frombuffer(bytes, dtype, shape, order). */
const fromBuffer: PickleGlobal = ([raw, dtype, shape, order]) => {
  const array = new NdArray();
  array.fill(raw, dtype, shape, order === "F");
  return array;
};

/** A numpy scalar, e.g. np.float32(1.5): scalar(dtype, raw bytes). */
const scalar: PickleGlobal = ([dtype, raw]) => {
  const array = new NdArray();
  array.fill(raw, dtype, [1], false);
  const value = array.data[0];
  return typeof value === "bigint" && value >= Number.MIN_SAFE_INTEGER && value <= Number.MAX_SAFE_INTEGER ? Number(value) : value;
};

/** Protocol 2 has no set or bytearray opcodes: they come as set(list), bytearray(latin-1 text, "latin-1"). */
function builtinConstructors(module: string): Record<string, PickleGlobal> {
  const items = (args: unknown[]) => (Array.isArray(args[0]) ? args[0] : []);
  return {
    [`${module}.set`]: (args) => new Set(items(args)),
    [`${module}.frozenset`]: (args) => new Set(items(args)),
    [`${module}.bytearray`]: ([text]) => (typeof text === "string" ? latin1Bytes(text) : new Uint8Array(0)),
  };
}

export const DEFAULT_GLOBALS: Record<string, PickleGlobal> = {
  "numpy.ndarray": () => {
    throw new Error("numpy.ndarray can only be rebuilt through _reconstruct");
  },
  "numpy.dtype": ([code]) => {
    if (typeof code !== "string") throw new Error("numpy.dtype needs a type code string");
    return new NumpyDtype(code);
  },
  "numpy.core.multiarray._reconstruct": reconstruct,
  "numpy._core.multiarray._reconstruct": reconstruct,
  "numpy.core.numeric._frombuffer": fromBuffer,
  "numpy._core.numeric._frombuffer": fromBuffer,
  "numpy.core.multiarray.scalar": scalar,
  "numpy._core.multiarray.scalar": scalar,
  ...builtinConstructors("builtins"),
  ...builtinConstructors("__builtin__"), // protocol 2 names builtins the Python 2 way
  // Protocol 2 has no bytes opcode: Python 3 writes bytes as _codecs.encode(latin-1 text, "latin1").
  "_codecs.encode": ([text, encoding]) => {
    if (typeof text !== "string" || (encoding !== "latin1" && encoding !== "latin-1")) throw new Error("_codecs.encode is only allowed for latin1 text");
    return latin1Bytes(text);
  },
};

export function readPickle(bytes: Uint8Array, options: PickleOptions = {}): unknown {
  return new PickleMachine(bytes, options).run();
}

class PickleMachine {
  private pos = 0;
  /** Offset of the opcode being run, for errors raised while it pops. */
  private opcodeAt = 0;
  private stack: unknown[] = [];
  private readonly marks: unknown[][] = [];
  private readonly memo = new Map<number, unknown>();
  private readonly view: DataView;
  private readonly globals: Record<string, PickleGlobal>;
  private readonly source: string;

  constructor(private readonly bytes: Uint8Array, private readonly options: PickleOptions) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.globals = { ...DEFAULT_GLOBALS, ...options.globals };
    this.source = options.source ?? "pickle";
  }

  private fail(message: string, at = this.pos): Error {
    return new Error(oneLine(`${this.source}: byte ${at}: ${message}`));
  }

  private take(n: number): Uint8Array {
    if (!Number.isSafeInteger(n) || n < 0 || this.pos + n > this.bytes.length) throw this.fail(`pickle is truncated (wanted ${n} bytes, ${this.bytes.length - this.pos} left)`);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  private u8 = () => this.take(1)[0];
  private u16 = () => (this.take(2), this.view.getUint16(this.pos - 2, true));
  private u32 = () => (this.take(4), this.view.getUint32(this.pos - 4, true));
  private i32 = () => (this.take(4), this.view.getInt32(this.pos - 4, true));
  private u64 = () => (this.take(8), Number(this.view.getBigUint64(this.pos - 8, true)));
  private f64be = () => (this.take(8), this.view.getFloat64(this.pos - 8, false));

  private line(): string {
    const end = this.bytes.indexOf(0x0a, this.pos);
    if (end < 0) throw this.fail("pickle is truncated inside a text line");
    return new TextDecoder("latin1").decode(this.take(end - this.pos + 1)).slice(0, -1);
  }

  private pop(): unknown {
    if (!this.stack.length) throw this.fail("pickle stack underflow", this.opcodeAt);
    return this.stack.pop();
  }

  /** Items pushed since the last MARK, restoring the stack below it. */
  private popMark(): unknown[] {
    const items = this.stack;
    const below = this.marks.pop();
    if (!below) throw this.fail("pickle has no MARK to pop to");
    this.stack = below;
    return items;
  }

  /** Pushes after evaluating `value`, which may itself swap the stack (popMark). */
  private push(value: unknown): void {
    this.stack.push(value);
  }

  private top(): unknown {
    if (!this.stack.length) throw this.fail("pickle stack underflow", this.opcodeAt);
    return this.stack[this.stack.length - 1];
  }

  private global(module: string, name: string, at: number): PyGlobal {
    const qualified = `${module}.${name}`;
    const call = Object.hasOwn(this.globals, qualified) ? this.globals[qualified] : undefined;
    if (!call) throw this.fail(`global '${qualified}' is not on the allow-list; refusing to load it`, at);
    return new PyGlobal(module, name, call);
  }

  private call(callable: unknown, args: unknown, at: number): unknown {
    if (!(callable instanceof PyGlobal)) throw this.fail("REDUCE / NEWOBJ on something that is not an allowed global", at);
    if (!Array.isArray(args)) throw this.fail(`arguments to ${callable.qualifiedName} are not a tuple`, at);
    try {
      return callable.call(args);
    } catch (e) {
      throw this.fail(`${callable.qualifiedName}: ${(e as Error).message}`, at);
    }
  }

  private setItems(target: unknown, items: unknown[], at: number): void {
    if (!(target instanceof Map)) throw this.fail("SETITEM(S) on something that is not a dict", at);
    if (items.length % 2) throw this.fail("SETITEMS with an odd number of items", at);
    for (let i = 0; i < items.length; i += 2) target.set(items[i], items[i + 1]);
  }

  private bigint(raw: Uint8Array): number | bigint {
    if (!raw.length) return 0;
    let value = 0n;
    for (let i = raw.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(raw[i]);
    if (raw[raw.length - 1] & 0x80) value -= 1n << BigInt(8 * raw.length); // two's complement
    return value >= Number.MIN_SAFE_INTEGER && value <= Number.MAX_SAFE_INTEGER ? Number(value) : value;
  }

  run(): unknown {
    const strict = new TextDecoder("utf-8", { fatal: true });
    const utf8 = {
      decode: (bytes: Uint8Array) => {
        try {
          return strict.decode(bytes);
        } catch {
          throw this.fail("string is not valid UTF-8", this.opcodeAt);
        }
      },
    };
    const latin1 = new TextDecoder("latin1");
    for (;;) {
      const at = (this.opcodeAt = this.pos);
      const op = this.u8();
      switch (op) {
        case 0x80: { // PROTO
          const protocol = this.u8();
          if (protocol > 5) throw this.fail(`pickle protocol ${protocol} is not supported (2–5)`, at);
          break;
        }
        case 0x95: this.u64(); break; // FRAME: a length prefix only; data follows contiguously
        case 0x2e: return this.pop(); // STOP
        case 0x28: this.marks.push(this.stack); this.stack = []; break; // MARK
        case 0x30: if (this.stack.length) this.stack.pop(); else this.popMark(); break; // POP
        case 0x31: this.popMark(); break; // POP_MARK
        case 0x32: this.stack.push(this.top()); break; // DUP
        case 0x4e: this.stack.push(null); break; // NONE
        case 0x88: this.stack.push(true); break; // NEWTRUE
        case 0x89: this.stack.push(false); break; // NEWFALSE
        case 0x4a: this.stack.push(this.i32()); break; // BININT
        case 0x4b: this.stack.push(this.u8()); break; // BININT1
        case 0x4d: this.stack.push(this.u16()); break; // BININT2
        case 0x8a: this.stack.push(this.bigint(this.take(this.u8()))); break; // LONG1
        case 0x8b: this.stack.push(this.bigint(this.take(this.i32()))); break; // LONG4
        case 0x47: this.stack.push(this.f64be()); break; // BINFLOAT
        case 0x55: this.stack.push(latin1.decode(this.take(this.u8()))); break; // SHORT_BINSTRING (Python 2 str)
        case 0x54: this.stack.push(latin1.decode(this.take(this.i32()))); break; // BINSTRING
        case 0x8c: this.stack.push(utf8.decode(this.take(this.u8()))); break; // SHORT_BINUNICODE
        case 0x58: this.stack.push(utf8.decode(this.take(this.u32()))); break; // BINUNICODE
        case 0x8d: this.stack.push(utf8.decode(this.take(this.u64()))); break; // BINUNICODE8
        case 0x43: this.stack.push(this.take(this.u8()).slice()); break; // SHORT_BINBYTES
        case 0x42: this.stack.push(this.take(this.u32()).slice()); break; // BINBYTES
        case 0x8e: this.stack.push(this.take(this.u64()).slice()); break; // BINBYTES8
        case 0x96: this.stack.push(this.take(this.u64()).slice()); break; // BYTEARRAY8
        case 0x5d: this.stack.push([]); break; // EMPTY_LIST
        case 0x6c: this.push(this.popMark()); break; // LIST
        case 0x61: { // APPEND
          const item = this.pop();
          const list = this.top();
          if (!Array.isArray(list)) throw this.fail("APPEND to something that is not a list", at);
          list.push(item);
          break;
        }
        case 0x65: { // APPENDS
          const items = this.popMark();
          const list = this.top();
          if (!Array.isArray(list)) throw this.fail("APPENDS to something that is not a list", at);
          for (const item of items) list.push(item);
          break;
        }
        case 0x29: this.stack.push([]); break; // EMPTY_TUPLE
        case 0x74: this.push(this.popMark()); break; // TUPLE
        case 0x85: this.stack.push([this.pop()]); break; // TUPLE1
        case 0x86: { const b = this.pop(), a = this.pop(); this.stack.push([a, b]); break; } // TUPLE2
        case 0x87: { const c = this.pop(), b = this.pop(), a = this.pop(); this.stack.push([a, b, c]); break; } // TUPLE3
        case 0x7d: this.stack.push(new Map()); break; // EMPTY_DICT
        case 0x64: { const dict = new Map(); this.setItems(dict, this.popMark(), at); this.stack.push(dict); break; } // DICT
        case 0x73: { const value = this.pop(), key = this.pop(); this.setItems(this.top(), [key, value], at); break; } // SETITEM
        case 0x75: { const items = this.popMark(); this.setItems(this.top(), items, at); break; } // SETITEMS
        case 0x8f: this.stack.push(new Set()); break; // EMPTY_SET
        case 0x90: { // ADDITEMS
          const items = this.popMark();
          const set = this.top();
          if (!(set instanceof Set)) throw this.fail("ADDITEMS to something that is not a set", at);
          for (const item of items) set.add(item);
          break;
        }
        case 0x91: this.push(new Set(this.popMark())); break; // FROZENSET
        case 0x71: this.memo.set(this.u8(), this.top()); break; // BINPUT
        case 0x72: this.memo.set(this.u32(), this.top()); break; // LONG_BINPUT
        case 0x94: this.memo.set(this.memo.size, this.top()); break; // MEMOIZE
        case 0x68: case 0x6a: { // BINGET, LONG_BINGET
          const key = op === 0x68 ? this.u8() : this.u32();
          if (!this.memo.has(key)) throw this.fail(`memo key ${key} was never stored`, at);
          this.stack.push(this.memo.get(key));
          break;
        }
        case 0x63: { const module = this.line(), name = this.line(); this.stack.push(this.global(module, name, at)); break; } // GLOBAL
        case 0x93: { // STACK_GLOBAL
          const name = this.pop(), module = this.pop();
          if (typeof module !== "string" || typeof name !== "string") throw this.fail("STACK_GLOBAL needs two strings", at);
          this.stack.push(this.global(module, name, at));
          break;
        }
        case 0x52: { const args = this.pop(), callable = this.pop(); this.stack.push(this.call(callable, args, at)); break; } // REDUCE
        case 0x81: { const args = this.pop(), cls = this.pop(); this.stack.push(this.call(cls, args, at)); break; } // NEWOBJ
        case 0x92: { // NEWOBJ_EX
          const kwargs = this.pop(), args = this.pop(), cls = this.pop();
          if (kwargs instanceof Map && kwargs.size) throw this.fail("NEWOBJ_EX with keyword arguments is not supported", at);
          this.stack.push(this.call(cls, args, at));
          break;
        }
        case 0x62: { // BUILD
          const state = this.pop();
          const target = this.top() as { __setstate__?: (state: unknown) => void } | null;
          if (typeof target?.__setstate__ !== "function") throw this.fail("BUILD on an object that does not accept state (only allowed globals' objects do)", at);
          try {
            target.__setstate__(state);
          } catch (e) {
            throw this.fail((e as Error).message, at);
          }
          break;
        }
        case 0x50: case 0x51: { // PERSID, BINPERSID
          const pid = op === 0x50 ? this.line() : this.pop();
          if (!this.options.persistentLoad) throw this.fail("persistent id in pickle, but no persistentLoad was given", at);
          this.stack.push(this.options.persistentLoad(pid));
          break;
        }
        default: {
          const name = op >= 0x20 && op < 0x7f ? ` '${String.fromCharCode(op)}'` : "";
          throw this.fail(`unsupported pickle opcode 0x${op.toString(16).padStart(2, "0")}${name} (out-of-band buffers, extension registry and protocol 0/1 text opcodes are not supported)`, at);
        }
      }
    }
  }
}
