import type { Handle } from "../../ffi/webgpu.ts";

export type DType = "f32" | "f16" | "i32" | "u32";
export type HostArray = Float32Array | Float16Array | Int32Array | Uint32Array;

export const hostArray: Record<DType, { new (n: number): HostArray; new (b: ArrayBuffer, offset?: number, length?: number): HostArray }> = {
  f32: Float32Array,
  f16: Float16Array,
  i32: Int32Array,
  u32: Uint32Array,
};

/** Bytes per element: f16 is 2 (WGSL `enable f16`, the device feature shader-f16), the rest 4. */
export const dtypeBytes = (dtype: DType): number => (dtype === "f16" ? 2 : 4);

export function dtypeOf(a: HostArray): DType {
  return a instanceof Float32Array ? "f32" : a instanceof Float16Array ? "f16" : a instanceof Int32Array ? "i32" : "u32";
}

/**
 * A typed view of (part of) a GPU buffer. A tensor made by `Gpu.tensor` owns its buffer;
 * `view()` makes tensors that share it (an arena slice).
 */
export class Tensor {
  constructor(
    readonly buffer: Handle,
    readonly shape: readonly number[],
    readonly dtype: DType,
    /** Byte offset into the buffer (a multiple of the device's storage offset alignment). */
    readonly offset: number,
    readonly label: string,
    readonly owner: Tensor | null,
  ) {}

  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  get byteLength(): number {
    return this.size * dtypeBytes(this.dtype);
  }

  /** A tensor over the same memory with another shape of the same size. */
  reshape(shape: number[]): Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    if (n !== this.size) throw new Error(`reshape ${this.label}: [${this.shape}] has ${this.size} elements, [${shape}] has ${n}`);
    return new Tensor(this.buffer, shape, this.dtype, this.offset, this.label, this.owner ?? this);
  }

  /** Its first n rows (entries of axis 0), e.g. the part of a workspace a shorter call uses. */
  head(n: number): Tensor {
    if (!Number.isInteger(n) || n < 0 || n > this.shape[0]) throw new Error(`head ${this.label}: ${n} of [${this.shape}]`);
    return new Tensor(this.buffer, [n, ...this.shape.slice(1)], this.dtype, this.offset, this.label, this.owner ?? this);
  }
}

/** The last axis of a tensor of at least two axes (a matrix's columns, a row's width). */
export function lastDim(op: string, name: string, t: Tensor): number {
  if (t.shape.length < 2) throw new Error(`${op}: ${name} (${t.label}) has shape [${t.shape}]; give it its rows and columns`);
  return t.shape[t.shape.length - 1];
}

/** Rows of `width` values in t (its size / width); throws when width does not divide it. */
export function rowsOf(op: string, name: string, t: Tensor, width: number): number {
  if (!Number.isInteger(width) || width < 1 || t.size % width !== 0) {
    throw new Error(`${op}: ${name} (${t.label}) has ${t.size} elements, not whole rows of ${width}`);
  }
  return t.size / width;
}

/**
 * Throws for the first tensor smaller than the elements an op will touch in it:
 * needs = { name: [tensor, elements] }.
 */
export function checkTensorSizes(op: string, needs: Record<string, [Tensor, number]>): void {
  for (const [name, [t, n]] of Object.entries(needs)) {
    if (t.size < n) throw new Error(`${op}: ${name} (${t.label}) has ${t.size} elements, needs ${n}`);
  }
}
