/** Small helpers the parity scripts share for comparing our tensors with PyTorch's files. */

/** max |a − b| / max |b|: the error relative to the tensor's scale. */
export function relError(a: Float32Array, b: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / Math.max(scale, 1e-30);
}

/** The data of a little-endian f32 .npy file. */
export function readNpyF32(bytes: Uint8Array): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = bytes[6] === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = (bytes[6] === 1 ? 10 : 12) + headerLength;
  const header = new TextDecoder().decode(bytes.subarray(bytes[6] === 1 ? 10 : 12, start));
  if (!header.includes("'<f4'")) throw new Error(`npy file: expected little-endian f32, header ${header}`);
  return new Float32Array(bytes.slice(start).buffer);
}
