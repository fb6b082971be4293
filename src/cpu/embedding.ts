import { type FloatArray, check, checkLength, zerosLike } from "./array.ts";

/**
 * Token embedding lookup: out[n, :] = table[tokens[n], :].
 * tokens: [N] (N = B·L, values in [0, V)); table: [V, D]; out: [N, D].
 */
export function embeddingForward<T extends FloatArray>(
  tokens: ArrayLike<number>, table: T, V: number, D: number,
): T {
  checkLength(table, V * D, "embedding table");
  const out = zerosLike(table, tokens.length * D);
  for (let n = 0; n < tokens.length; n++) {
    const t = tokens[n];
    check(Number.isInteger(t) && t >= 0 && t < V, `embedding: token ${t} out of range [0, ${V})`);
    out.set(table.subarray(t * D, (t + 1) * D), n * D);
  }
  return out;
}

/** Backward given dout[N,D]: dtable[V,D] = scatter-add of the rows of dout by token id. */
export function embeddingBackward<T extends FloatArray>(
  tokens: ArrayLike<number>, dout: T, V: number, D: number,
): T {
  checkLength(dout, tokens.length * D, "embedding dout");
  const sum = new Float64Array(V * D);
  for (let n = 0; n < tokens.length; n++) {
    const row = tokens[n] * D;
    for (let d = 0; d < D; d++) sum[row + d] += dout[n * D + d];
  }
  const dtable = zerosLike(dout, V * D);
  dtable.set(sum);
  return dtable;
}
