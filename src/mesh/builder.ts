/**
 * Accumulates vertices and polygon faces of unknown count (parsers, generators) into a Mesh,
 * growing typed arrays by doubling so a million-face file never goes through JS number arrays.
 */
import type { Mesh } from "./mesh.ts";

class GrowableArray<T extends Float32Array | Uint32Array> {
  length = 0;
  constructor(private data: T, private readonly make: (n: number) => T) {}

  push(value: number): void {
    if (this.length === this.data.length) {
      const bigger = this.make(Math.max(16, 2 * this.data.length));
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = value;
  }

  /** The filled part, trimmed to a fresh array of its own. */
  toArray(): T {
    return this.data.slice(0, this.length) as T;
  }
}

const floats = (n: number) => new Float32Array(n);
const uints = (n: number) => new Uint32Array(n);

export class MeshBuilder {
  private readonly positions = new GrowableArray(floats(0), floats);
  private readonly indices = new GrowableArray(uints(0), uints);
  private readonly starts = new GrowableArray(uints(0), uints);

  constructor() {
    this.starts.push(0);
  }

  get vertexCount(): number {
    return this.positions.length / 3;
  }

  /** Adds a vertex and returns its index. */
  addVertex(x: number, y: number, z: number): number {
    this.positions.push(x);
    this.positions.push(y);
    this.positions.push(z);
    return this.vertexCount - 1;
  }

  addFace(vertexIndices: ArrayLike<number>): void {
    for (let i = 0; i < vertexIndices.length; i++) this.indices.push(vertexIndices[i]);
    this.starts.push(this.indices.length);
  }

  build(): Mesh {
    return { vertices: this.positions.toArray(), faceIndices: this.indices.toArray(), faceStarts: this.starts.toArray() };
  }
}
