/**
 * Descriptor memory for webgpu.h calls: structs written into JS memory with the header's C
 * layout (64-bit), string views, and the Completion record the C shim's callbacks fill.
 * Every pointer written into a descriptor must stay reachable until the call returns, so each
 * descriptor is built by a Struct that keeps what it points at.
 */
import { ptr, toArrayBuffer, type Pointer } from "bun:ffi";

export type Handle = Pointer;
export type Bytes = Uint8Array | Uint32Array | BigUint64Array | Float32Array | Int32Array;

const WHOLE_SIZE = 0xffffffffffffffffn;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class Struct {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  private readonly keep: Bytes[] = [];
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }
  u32(offset: number, value: number): this {
    this.view.setUint32(offset, value, true);
    return this;
  }
  u64(offset: number, value: number | bigint): this {
    this.view.setBigUint64(offset, BigInt(value), true);
    return this;
  }
  pointer(offset: number, target: Handle | Bytes | Struct | null): this {
    if (target instanceof Struct) return this.pointer(offset, target.bytes);
    if (target === null || target === 0) return this.u64(offset, 0);
    if (typeof target === "number") return this.u64(offset, target);
    this.keep.push(target);
    return this.u64(offset, ptr(target));
  }
  /** A WGPUStringView {data, length}. */
  string(offset: number, text: string | undefined): this {
    if (text === undefined) return this.u64(offset, 0).u64(offset + 8, WHOLE_SIZE);
    const utf8 = encoder.encode(text);
    if (utf8.length === 0) return this.u64(offset, 0).u64(offset + 8, 0);
    return this.pointer(offset, utf8).u64(offset + 8, utf8.length);
  }
  /** A pointer to an array of NUL-terminated C strings. */
  cStrings(offset: number, list: readonly string[]): this {
    const pointers = new BigUint64Array(Math.max(1, list.length));
    list.forEach((text, i) => {
      const c = encoder.encode(`${text}\0`);
      this.keep.push(c);
      pointers[i] = BigInt(ptr(c));
    });
    return this.pointer(offset, pointers);
  }
  get address(): Pointer {
    return ptr(this.bytes);
  }
  get dataView(): DataView {
    return this.view;
  }
}

/** A handle returned by a create call; null means the library refused. */
export function handle(value: unknown, what: string): Handle {
  if (!value) throw new Error(`${what} returned null`);
  return value as Handle;
}

/** A WGPUStringView read back from library memory. */
export function readString(view: DataView, offset: number): string {
  const data = Number(view.getBigUint64(offset, true));
  const length = Number(view.getBigUint64(offset + 8, true));
  if (!data || !length) return "";
  return decoder.decode(new Uint8Array(toArrayBuffer(data, 0, length)));
}

/** Mirrors `Completion` in shim.c. */
export class Completion {
  private readonly view: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  static at(address: number, size: number): Completion {
    return new Completion(new Uint8Array(toArrayBuffer(address, 0, size)));
  }
  get done() { return this.view.getUint32(0, true) !== 0; }
  get status() { return this.view.getUint32(4, true); }
  get kind() { return this.view.getUint32(8, true); }
  get handle(): Handle { return Number(this.view.getBigUint64(16, true)) as Handle; }
  get message() { return decoder.decode(this.bytes.subarray(24, 24 + this.view.getUint32(12, true))); }
}
