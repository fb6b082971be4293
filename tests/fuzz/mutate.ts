/**
 * Seeded mutations of valid files for the reader fuzz suite (tests/fuzz.test.ts): truncation,
 * byte flips, inserted and repeated chunks, hostile numbers in text, hostile words in binary,
 * inflated counts and sizes, and hostile glTF buffer URIs. Everything derives from one seed.
 */

/** mulberry32: small, fast, and the same sequence on every machine. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
}

export const HOSTILE_NUMBERS = [
  "0", "-1", "99999999999", "4294967295", "4294967296", "18446744073709551615", "1e39", "-1e39", "1e308", "1e309",
  "-1e309", "nan", "NaN", "inf", "-inf", "Infinity", "1e-320", "3.4e38", "2147483647", "-2147483648", "0x10", "1.5", "",
] as const;

const HOSTILE_WORDS = [0xffffffff, 0x7fffffff, 0x80000000, 0x3b9aca00, 0x7f800000, 0x7fc00000, 0xff800000, 0, 1, 0x10000];

export const HOSTILE_URIS = [
  "../secret.bin", "%2e%2e/secret.bin", "..%2fsecret.bin", "%2E%2E%2Fsecret.bin", "/etc/passwd", "%2fetc%2fpasswd",
  "%2fdev%2fzero", "/dev/zero", "file:///etc/passwd", "link.bin", "zero.bin", ".", "", "%", "%E0%A4%A", "..\\secret.bin",
  "data:application/octet-stream;base64,!!!", "data:,", "data:application/octet-stream;base64,AAAA", "a".repeat(5000), "buffer.bin\u0000.txt",
] as const;

const NUMBER = /-?\d+(\.\d+)?([eE][+-]?\d+)?/g;

function numberSpans(text: string): [number, number][] {
  const spans: [number, number][] = [];
  for (const m of text.matchAll(NUMBER)) spans.push([m.index, m.index + m[0].length]);
  return spans;
}

const latin1 = (bytes: Uint8Array) => Buffer.from(bytes).toString("latin1");
const fromLatin1 = (text: string) => new Uint8Array(Buffer.from(text, "latin1"));

export interface MutateOptions {
  /** Text-like content (numbers are replaced as tokens). */
  text: boolean;
  /** JSON keys whose values are counts or sizes worth inflating (glTF, configs). */
  sizeKeys?: readonly string[];
  /** Replace buffer URIs with hostile ones (glTF). */
  uris?: boolean;
  /** Where most mutations land (e.g. a zip's pickle); the whole file otherwise. */
  hotRange?: [number, number];
}

/** One to three mutations of `seed`; `what` lists them, for the failure message. */
export function mutate(seed: Uint8Array, rng: Rng, opts: MutateOptions): { bytes: Uint8Array; what: string[] } {
  let bytes = seed.slice();
  const what: string[] = [];
  const rounds = 1 + rng.int(3);
  const offset = () => {
    if (opts.hotRange && rng.next() < 0.8) return opts.hotRange[0] + rng.int(Math.max(1, Math.min(bytes.length, opts.hotRange[1]) - opts.hotRange[0]));
    return rng.int(Math.max(1, bytes.length));
  };
  for (let r = 0; r < rounds; r++) {
    const kind = rng.int(opts.text ? 8 : 7);
    switch (kind) {
      case 0: { // truncate
        const at = offset();
        bytes = bytes.slice(0, at);
        what.push(`truncate@${at}`);
        break;
      }
      case 1: { // flip bytes
        const n = 1 + rng.int(8);
        for (let i = 0; i < n && bytes.length; i++) bytes[offset() % bytes.length] = rng.int(256);
        what.push(`flip×${n}`);
        break;
      }
      case 2: { // insert garbage
        const at = offset() % (bytes.length + 1);
        const junk = Uint8Array.from({ length: 1 + rng.int(64) }, () => rng.int(256));
        bytes = new Uint8Array([...bytes.subarray(0, at), ...junk, ...bytes.subarray(at)]);
        what.push(`insert${junk.length}@${at}`);
        break;
      }
      case 3: { // repeat a region
        const at = offset() % (bytes.length + 1);
        const len = rng.int(Math.min(256, bytes.length - at) + 1);
        const times = 1 + rng.int(8);
        const region = bytes.subarray(at, at + len);
        bytes = new Uint8Array([...bytes.subarray(0, at + len), ...Array.from({ length: times }, () => [...region]).flat(), ...bytes.subarray(at + len)]);
        what.push(`repeat${len}×${times}@${at}`);
        break;
      }
      case 4: { // hostile binary word
        if (bytes.length < 4) break;
        const at = (offset() & ~3) % (bytes.length - 3);
        const word = rng.pick(HOSTILE_WORDS);
        new DataView(bytes.buffer, bytes.byteOffset).setUint32(at, word, rng.next() < 0.5);
        what.push(`word${word.toString(16)}@${at}`);
        break;
      }
      case 5: { // inflate a count or size key (JSON), or any number in text
        const text = latin1(bytes);
        if (opts.sizeKeys?.length) {
          const key = rng.pick(opts.sizeKeys);
          const re = new RegExp(`"${key}"\\s*:\\s*-?[\\d.eE+]+`, "g");
          const hits = [...text.matchAll(re)];
          if (hits.length) {
            const hit = rng.pick(hits);
            const value = rng.pick(["99999999999", "4294967295", "30000000", "1e308", "-1", "0", "1.5", "2147483648"]);
            bytes = fromLatin1(text.slice(0, hit.index) + `"${key}": ${value}` + text.slice(hit.index + hit[0].length));
            what.push(`${key}=${value}`);
            break;
          }
        }
        if (!opts.text) break;
        const spans = numberSpans(text);
        if (!spans.length) break;
        const [a, b] = rng.pick(spans);
        const value = rng.pick(["99999999999", "4294967295", "1e15", "2147483648"]);
        bytes = fromLatin1(text.slice(0, a) + value + text.slice(b));
        what.push(`inflate→${value}`);
        break;
      }
      case 6: { // hostile URI
        if (!opts.uris) break;
        const text = latin1(bytes);
        const uri = rng.pick(HOSTILE_URIS);
        bytes = fromLatin1(text.replace(/"uri"\s*:\s*"[^"]*"/, `"uri": ${JSON.stringify(uri)}`));
        what.push(`uri=${uri.slice(0, 40)}`);
        break;
      }
      case 7: { // hostile number token in text
        const text = latin1(bytes);
        const spans = numberSpans(text);
        if (!spans.length) break;
        const [a, b] = rng.pick(spans);
        const value = rng.pick(HOSTILE_NUMBERS);
        bytes = fromLatin1(text.slice(0, a) + value + text.slice(b));
        what.push(`number→${value || "(empty)"}`);
        break;
      }
    }
  }
  return { bytes, what };
}
