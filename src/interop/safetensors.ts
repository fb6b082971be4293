/**
 * safetensors: an 8-byte little-endian header length, a JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {string: string}}`,
 * then the raw little-endian tensor bytes. We write F32 (aligned to 8 bytes) and read
 * F32/F16/BF16/F64/I32/I64 into f32 or i32.
 */
import { z } from "zod";
import { oneLine } from "../util/text.ts";

export interface NamedTensor {
  shape: number[];
  data: Float32Array | Int32Array;
}

const Entry = z.object({
  dtype: z.enum(["F32", "F16", "BF16", "F64", "I32", "I64", "U8", "BOOL"]),
  shape: z.array(z.number().int().nonnegative()),
  data_offsets: z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]),
});

const bytesPer: Record<z.infer<typeof Entry>["dtype"], number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I32: 4, I64: 8, U8: 1, BOOL: 1 };

export function encodeSafetensors(tensors: Record<string, NamedTensor>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  const names = Object.keys(tensors).sort();
  for (const name of names) {
    const t = tensors[name];
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new Error(`safetensors: ${name} has shape [${t.shape}] but ${t.data.length} values`);
    header[name] = { dtype: t.data instanceof Int32Array ? "I32" : "F32", shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - ((8 + json.length) % 8)) % 8); // data starts 8-byte aligned
  const jsonBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + jsonBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(jsonBytes.length), true);
  out.set(jsonBytes, 8);
  let at = 8 + jsonBytes.length;
  for (const name of names) {
    const d = tensors[name].data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), at);
    at += d.byteLength;
  }
  return out;
}

type Decoded = { tensors: Record<string, NamedTensor>; metadata: Record<string, string> };

/** Decodes a safetensors file; a refusal is one line naming `file` (tensor names and JSON errors quoted safely). */
export function decodeSafetensors(bytes: Uint8Array, file = "safetensors"): Decoded {
  try {
    return decode(bytes, file);
  } catch (e) {
    throw new Error(oneLine((e as Error).message), { cause: e });
  }
}

function decode(bytes: Uint8Array, file: string): Decoded {
  if (bytes.length < 8) throw new Error(`${file}: truncated (${bytes.length} bytes, no header)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const declared = view.getBigUint64(0, true);
  if (8n + declared > BigInt(bytes.length)) throw new Error(`${file}: header of ${declared} bytes runs past the end of the file (${bytes.length} bytes)`);
  const headerLength = Number(declared);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  } catch (e) {
    throw new Error(`${file}: header is not JSON: ${(e as Error).message}`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new Error(`${file}: header is ${json === null ? "null" : Array.isArray(json) ? "an array" : typeof json}, not a JSON object of tensors`);
  const header = json as Record<string, unknown>;
  const dataStart = 8 + headerLength;
  const meta = z.record(z.string(), z.string()).safeParse(header.__metadata__ ?? {});
  if (!meta.success) {
    const issue = meta.error.issues[0];
    throw new Error(`${file}: __metadata__${issue.path.length ? `.${issue.path.join(".")}` : ""}: ${issue.message} (metadata values must be strings)`);
  }
  const metadata = meta.data;
  const tensors: Record<string, NamedTensor> = {};
  for (const [name, raw] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const parsed = Entry.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Error(`${file}: tensor ${name}: ${issue.path.length ? `${issue.path.join(".")}: ` : ""}${issue.message}`);
    }
    const { dtype, shape, data_offsets: [begin, end] } = parsed.data;
    const n = shape.reduce((a, b) => a * b, 1);
    if (end - begin !== n * bytesPer[dtype] || dataStart + end > bytes.length) {
      throw new Error(`${file}: tensor ${name} [${shape}] ${dtype}: data [${begin}, ${end}) does not match its shape or runs past the end of the file`);
    }
    const raw8 = bytes.slice(dataStart + begin, dataStart + end);
    tensors[name] = { shape, data: convert(dtype, raw8, n, `${file}: tensor ${name}`) };
  }
  return { tensors, metadata };
}

function convert(dtype: z.infer<typeof Entry>["dtype"], raw: Uint8Array, n: number, what: string): Float32Array | Int32Array {
  const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  switch (dtype) {
    case "F32":
      return new Float32Array(raw.buffer, raw.byteOffset, n);
    case "I32":
      return new Int32Array(raw.buffer, raw.byteOffset, n);
    case "F64":
      return Float32Array.from({ length: n }, (_, i) => v.getFloat64(8 * i, true));
    case "I64":
      return Int32Array.from({ length: n }, (_, i) => Number(v.getBigInt64(8 * i, true)));
    case "F16":
      return Float32Array.from({ length: n }, (_, i) => halfToFloat(v.getUint16(2 * i, true)));
    case "BF16": {
      const out = new Float32Array(n);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = v.getUint16(2 * i, true) << 16;
      return out;
    }
    default:
      throw new Error(`${what}: dtype ${dtype} is not supported`);
  }
}

export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}
