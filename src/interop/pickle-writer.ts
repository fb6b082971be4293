/**
 * A protocol-2 pickle writer for the few Python values a PyTorch checkpoint needs: None, bools,
 * ints, floats, str, tuples, dicts, calls of named globals (GLOBAL + REDUCE, optionally followed
 * by SETITEMS, which is how an OrderedDict is pickled) and persistent ids. It emits only opcodes
 * that torch's `weights_only` unpickler accepts, and no memo (nothing is shared).
 *
 * JS numbers are written as Python ints (they must be safe integers); wrap floats in PyFloat.
 * JS arrays are written as tuples, Maps as dicts.
 */
export type PyValue = null | boolean | number | string | PyFloat | PyGlobalRef | PyCall | PyPersistentId | PyValue[] | Map<string | number, PyValue>;

export class PyFloat {
  constructor(readonly value: number) {}
}

/** A module-level Python name, e.g. torch.FloatStorage. */
export class PyGlobalRef {
  constructor(readonly module: string, readonly name: string) {}
}

/** `fn(*args)`, then `result[k] = v` for each of `items` (an OrderedDict is `OrderedDict()` plus items). */
export class PyCall {
  constructor(readonly fn: PyGlobalRef, readonly args: PyValue[], readonly items?: Map<string | number, PyValue>) {}
}

/** A value the unpickler hands to its persistent_load (torch: a storage reference). */
export class PyPersistentId {
  constructor(readonly id: PyValue) {}
}

const OP = {
  PROTO: 0x80, STOP: 0x2e, NONE: 0x4e, TRUE: 0x88, FALSE: 0x89, BININT1: 0x4b, BININT2: 0x4d, BININT: 0x4a,
  LONG1: 0x8a, BINFLOAT: 0x47, BINUNICODE: 0x58, EMPTY_TUPLE: 0x29, TUPLE1: 0x85, TUPLE2: 0x86, TUPLE3: 0x87,
  MARK: 0x28, TUPLE: 0x74, EMPTY_DICT: 0x7d, SETITEMS: 0x75, GLOBAL: 0x63, REDUCE: 0x52, BINPERSID: 0x51,
};

export function writePickle(value: PyValue): Uint8Array {
  const out = new ByteWriter();
  out.bytes(OP.PROTO, 2);
  writeValue(out, value);
  out.bytes(OP.STOP);
  return out.finish();
}

function writeValue(out: ByteWriter, value: PyValue): void {
  if (value === null) out.bytes(OP.NONE);
  else if (value === true) out.bytes(OP.TRUE);
  else if (value === false) out.bytes(OP.FALSE);
  else if (typeof value === "number") writeInt(out, value);
  else if (typeof value === "string") {
    const utf8 = new TextEncoder().encode(value);
    out.bytes(OP.BINUNICODE);
    out.u32(utf8.length);
    out.raw(utf8);
  } else if (value instanceof PyFloat) {
    out.bytes(OP.BINFLOAT);
    out.f64be(value.value);
  } else if (value instanceof PyGlobalRef) {
    out.bytes(OP.GLOBAL);
    out.raw(new TextEncoder().encode(`${value.module}\n${value.name}\n`));
  } else if (value instanceof PyCall) {
    writeValue(out, value.fn);
    writeValue(out, value.args);
    out.bytes(OP.REDUCE);
    if (value.items?.size) writeItems(out, value.items);
  } else if (value instanceof PyPersistentId) {
    writeValue(out, value.id);
    out.bytes(OP.BINPERSID);
  } else if (Array.isArray(value)) {
    if (value.length === 0) return out.bytes(OP.EMPTY_TUPLE);
    if (value.length > 3) out.bytes(OP.MARK);
    for (const item of value) writeValue(out, item);
    out.bytes(value.length > 3 ? OP.TUPLE : [OP.TUPLE1, OP.TUPLE2, OP.TUPLE3][value.length - 1]);
  } else {
    out.bytes(OP.EMPTY_DICT);
    if (value.size) writeItems(out, value);
  }
}

/** MARK k v k v … SETITEMS into the dict on top of the stack. */
function writeItems(out: ByteWriter, items: Map<string | number, PyValue>): void {
  out.bytes(OP.MARK);
  for (const [k, v] of items) {
    writeValue(out, k);
    writeValue(out, v);
  }
  out.bytes(OP.SETITEMS);
}

function writeInt(out: ByteWriter, n: number): void {
  if (!Number.isSafeInteger(n)) throw new Error(`pickle writer: ${n} is not a safe integer (wrap floats in PyFloat)`);
  if (n >= 0 && n < 0x100) out.bytes(OP.BININT1, n);
  else if (n >= 0 && n < 0x10000) out.bytes(OP.BININT2, n & 0xff, n >> 8);
  else if (n >= -(2 ** 31) && n < 2 ** 31) {
    out.bytes(OP.BININT);
    out.u32(n >>> 0);
  } else {
    // LONG1: little-endian two's complement, as few bytes as keep the sign.
    const bytes: number[] = [];
    let v = BigInt(n);
    do {
      bytes.push(Number(v & 0xffn));
      v >>= 8n;
    } while (!(v === 0n && bytes[bytes.length - 1] < 0x80) && !(v === -1n && bytes[bytes.length - 1] >= 0x80));
    out.bytes(OP.LONG1, bytes.length, ...bytes);
  }
}

class ByteWriter {
  private buffer = new Uint8Array(256);
  private length = 0;

  private reserve(n: number): number {
    if (this.length + n > this.buffer.length) {
      const grown = new Uint8Array(Math.max(2 * this.buffer.length, this.length + n));
      grown.set(this.buffer.subarray(0, this.length));
      this.buffer = grown;
    }
    this.length += n;
    return this.length - n;
  }

  bytes(...values: number[]): void {
    const at = this.reserve(values.length); // before reading this.buffer: reserve may replace it
    this.buffer.set(values, at);
  }

  raw(data: Uint8Array): void {
    const at = this.reserve(data.length);
    this.buffer.set(data, at);
  }

  u32(n: number): void {
    const at = this.reserve(4);
    new DataView(this.buffer.buffer).setUint32(at, n, true);
  }

  f64be(x: number): void {
    const at = this.reserve(8);
    new DataView(this.buffer.buffer).setFloat64(at, x, false);
  }

  finish(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }
}
