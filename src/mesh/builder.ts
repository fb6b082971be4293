/**
 * Accumulates vertices and polygon faces of unknown count (parsers, generators) into a Mesh,
 * growing typed arrays by doubling so a million-face file never goes through JS number arrays.
 * It refuses to grow past MESH_BUDGET, naming the file, so no input (glTF instancing one mesh
 * from many nodes, say) can build a mesh that exhausts memory.
 */
import { MESH_BUDGET } from "./formats/errors.ts";
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

  /** `file` names the source in the over-budget error. */
  constructor(private readonly file = "mesh") {
    this.starts.push(0);
  }

  get vertexCount(): number {
    return this.positions.length / 3;
  }

  /** Adds a vertex and returns its index. */
  addVertex(x: number, y: number, z: number): number {
    if (this.vertexCount >= MESH_BUDGET.vertices) throw new Error(`${this.file}: more than ${MESH_BUDGET.vertices} vertices (the mesh budget)`);
    this.positions.push(x);
    this.positions.push(y);
    this.positions.push(z);
    return this.vertexCount - 1;
  }

  addFace(vertexIndices: ArrayLike<number>): void {
    if (this.indices.length + vertexIndices.length > MESH_BUDGET.corners) throw new Error(`${this.file}: more than ${MESH_BUDGET.corners} face corners (the mesh budget)`);
    for (let i = 0; i < vertexIndices.length; i++) this.indices.push(vertexIndices[i]);
    this.starts.push(this.indices.length);
  }

  build(): Mesh {
    return { vertices: this.positions.toArray(), faceIndices: this.indices.toArray(), faceStarts: this.starts.toArray() };
  }
}
