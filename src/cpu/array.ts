/**
 * Storage type shared by every CPU reference op.
 *
 * Float32Array is the production precision: it is what the GPU stores, so an op run on
 * Float32Array rounds its outputs exactly where a kernel writes them. Float64Array runs the very
 * same code in double precision; gradient checks use it so that finite differences are accurate
 * to ~1e-9 and tolerances can be tight. Sums inside an op are always JS numbers (f64).
 *
 * Convention: an op allocates its outputs with the array type of its first tensor argument.
 */
export type FloatArray = Float32Array | Float64Array;

/** A zero-filled array of length n with the same element type as `like`. */
export function zerosLike<T extends FloatArray>(like: T, n: number): T {
  return (like instanceof Float64Array ? new Float64Array(n) : new Float32Array(n)) as T;
}

/** Elementwise a + b (the residual adds). */
export function add<T extends FloatArray>(a: T, b: FloatArray): T {
  check(a.length === b.length, `add: lengths ${a.length} and ${b.length} differ`);
  const out = zerosLike(a, a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] + b[i];
  return out;
}

/** Throws `message` unless `condition`; used for shape checks at op entry. */
export function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

/** Checks that tensor `name` holds exactly `n` elements. */
export function checkLength(x: ArrayLike<number>, n: number, name: string): void {
  check(x.length === n, `${name}: expected ${n} elements, got ${x.length}`);
}

/** Checks that every tensor of `op` holds exactly `n` elements (names as the error shows them). */
export function checkLengths(op: string, n: number, tensors: Record<string, ArrayLike<number>>): void {
  for (const [name, x] of Object.entries(tensors)) checkLength(x, n, `${op} ${name}`);
}
