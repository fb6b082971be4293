/**
 * The zip subset PyTorch's `torch.save` uses: STORED (uncompressed) entries, CRC-32 checked,
 * ZIP64 records when sizes or offsets pass 4 GiB. The reader works on a random-access source so
 * a checkpoint of several GB is never read whole: only the central directory and the entries
 * asked for. Compressed entries are refused (torch never writes them).
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";

/** Random access to the bytes of an archive (a file or a buffer). */
export interface ByteSource {
  readonly size: number;
  read(offset: number, length: number): Uint8Array;
  close(): void;
}

export function bytesSource(bytes: Uint8Array): ByteSource {
  return { size: bytes.length, read: (offset, length) => bytes.subarray(offset, offset + length), close: () => {} };
}

export function fileSource(path: string): ByteSource {
  const fd = openSync(path, "r");
  const size = fstatSync(fd).size;
  return {
    size,
    read(offset, length) {
      const out = new Uint8Array(length);
      for (let done = 0; done < length;) {
        const n = readSync(fd, out, done, length - done, offset + done);
        if (n === 0) throw new Error(`${path}: file ended at byte ${offset + done} while reading ${length} bytes at ${offset}`);
        done += n;
      }
      return out;
    },
    close: () => closeSync(fd),
  };
}

export interface ZipEntry {
  name: string;
  /** Offset of the local file header. */
  headerOffset: number;
  size: number;
  compressedSize: number;
  method: number;
  crc32: number;
}

const SIG = { local: 0x04034b50, central: 0x02014b50, end: 0x06054b50, end64: 0x06064b50, locator64: 0x07064b50 };
const U32_MAX = 0xffffffff;
const END_SIZE = 22;
const LOCATOR64_SIZE = 20;

export class ZipReader {
  readonly entries = new Map<string, ZipEntry>();

  /** `file` names the archive in every error. */
  constructor(private readonly source: ByteSource, readonly file: string) {
    const { count, directoryOffset, directorySize } = this.findDirectory();
    if (directoryOffset + directorySize > source.size) throw this.fail(`central directory [${directoryOffset}, +${directorySize}) runs past the end of the file (${source.size} bytes); it is truncated`);
    const dir = source.read(directoryOffset, directorySize);
    const view = new DataView(dir.buffer, dir.byteOffset, dir.byteLength);
    let at = 0;
    for (let i = 0; i < count; i++) {
      if (at + 46 > dir.length || view.getUint32(at, true) !== SIG.central) throw this.fail(`central directory entry ${i} is damaged`);
      const nameLength = view.getUint16(at + 28, true);
      const extraLength = view.getUint16(at + 30, true);
      const commentLength = view.getUint16(at + 32, true);
      const name = new TextDecoder().decode(dir.subarray(at + 46, at + 46 + nameLength));
      const entry: ZipEntry = {
        name,
        method: view.getUint16(at + 10, true),
        crc32: view.getUint32(at + 16, true),
        compressedSize: view.getUint32(at + 20, true),
        size: view.getUint32(at + 24, true),
        headerOffset: view.getUint32(at + 42, true),
      };
      if (!readZip64Extra(entry, dir.subarray(at + 46 + nameLength, at + 46 + nameLength + extraLength))) throw this.fail(`entry '${name}': ZIP64 extra field is too short`);
      this.entries.set(name, entry);
      at += 46 + nameLength + extraLength + commentLength;
    }
  }

  private fail(message: string): Error {
    return new Error(`${this.file}: ${message}`);
  }

  /** The end-of-central-directory record (the last 22 bytes unless there is a comment), preferring its ZIP64 twin. */
  private findDirectory(): { count: number; directoryOffset: number; directorySize: number } {
    const tailLength = Math.min(this.source.size, END_SIZE + 0xffff);
    const tailStart = this.source.size - tailLength;
    const tail = this.source.read(tailStart, tailLength);
    const view = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
    let end = -1;
    for (let at = tail.length - END_SIZE; at >= 0; at--) {
      if (view.getUint32(at, true) === SIG.end && at + END_SIZE + view.getUint16(at + 20, true) === tail.length) { end = at; break; }
    }
    if (end < 0) throw this.fail("not a zip archive or truncated (no end-of-central-directory record)");
    const locator = end - LOCATOR64_SIZE;
    if (locator >= 0 && view.getUint32(locator, true) === SIG.locator64) {
      const end64Offset = Number(view.getBigUint64(locator + 8, true));
      if (end64Offset + 56 > this.source.size) throw this.fail("ZIP64 end record lies past the end of the file; it is truncated");
      const end64 = this.source.read(end64Offset, 56);
      const v64 = new DataView(end64.buffer, end64.byteOffset, 56);
      if (v64.getUint32(0, true) !== SIG.end64) throw this.fail("ZIP64 end record is damaged");
      return { count: Number(v64.getBigUint64(32, true)), directorySize: Number(v64.getBigUint64(40, true)), directoryOffset: Number(v64.getBigUint64(48, true)) };
    }
    return { count: view.getUint16(end + 10, true), directorySize: view.getUint32(end + 12, true), directoryOffset: view.getUint32(end + 16, true) };
  }

  /** An entry's bytes, checked against its CRC-32. */
  read(name: string): Uint8Array {
    const entry = this.entries.get(name);
    if (!entry) throw this.fail(`has no entry '${name}'`);
    if (entry.method !== 0) throw this.fail(`entry '${name}' is compressed (method ${entry.method}); torch.save writes entries uncompressed`);
    if (entry.compressedSize !== entry.size) throw this.fail(`entry '${name}' is stored but its sizes differ (${entry.compressedSize} vs ${entry.size})`);
    if (entry.headerOffset + 30 > this.source.size) throw this.fail(`entry '${name}' starts past the end of the file; it is truncated`);
    const header = this.source.read(entry.headerOffset, 30);
    const view = new DataView(header.buffer, header.byteOffset, 30);
    if (view.getUint32(0, true) !== SIG.local) throw this.fail(`entry '${name}': local header is damaged`);
    const dataStart = entry.headerOffset + 30 + view.getUint16(26, true) + view.getUint16(28, true);
    if (dataStart + entry.size > this.source.size) throw this.fail(`entry '${name}' runs past the end of the file; it is truncated`);
    const data = this.source.read(dataStart, entry.size);
    if (Bun.hash.crc32(data) !== entry.crc32) throw this.fail(`entry '${name}' is corrupt (CRC-32 mismatch)`);
    return data;
  }
}

/**
 * The ZIP64 extra field (id 1) holds, in order, only the fields whose 32-bit slots read
 * 0xFFFFFFFF; false when it is too short for them.
 */
function readZip64Extra(entry: ZipEntry, extra: Uint8Array): boolean {
  const view = new DataView(extra.buffer, extra.byteOffset, extra.byteLength);
  for (let at = 0; at + 4 <= extra.length;) {
    const id = view.getUint16(at, true);
    const length = view.getUint16(at + 2, true);
    if (id === 1) {
      const wanted = (["size", "compressedSize", "headerOffset"] as const).filter((k) => entry[k] === U32_MAX);
      if (8 * wanted.length > length || at + 4 + length > extra.length) return false;
      wanted.forEach((k, i) => { entry[k] = Number(view.getBigUint64(at + 4 + 8 * i, true)); });
      return true;
    }
    at += 4 + length;
  }
  return true;
}

/**
 * A zip of STORED entries in the given order, each entry's data aligned to `align` bytes with
 * padding in the local header's extra field, as PyTorch's writer does (so its loader can map
 * storages in place). Archives past 4 GiB would need ZIP64 records, which are not written.
 */
export function writeStoredZip(entries: { name: string; data: Uint8Array }[], align = 64): Uint8Array {
  const names = entries.map((e) => new TextEncoder().encode(e.name));
  const layout: { offset: number; padding: number }[] = [];
  let offset = 0;
  entries.forEach((e, i) => {
    let padding = (align - ((offset + 30 + names[i].length) % align)) % align;
    if (padding > 0 && padding < 4) padding += align; // an extra field needs 4 bytes of header
    layout.push({ offset, padding });
    offset += 30 + names[i].length + padding + e.data.length;
  });
  const directoryOffset = offset;
  const directorySize = names.reduce((sum, n) => sum + 46 + n.length, 0);
  const total = directoryOffset + directorySize + END_SIZE;
  if (total > U32_MAX) throw new Error(`zip of ${total} bytes needs ZIP64 records, which this writer does not produce`);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  const crcs = entries.map((e) => Bun.hash.crc32(e.data));
  /** The fields local and central headers share, from "version needed" to the extra length. */
  const common = (at: number, i: number, extraLength: number) => {
    view.setUint16(at, 20, true); // version needed: 2.0
    view.setUint16(at + 8, 0x21, true); // DOS date 1980-01-01 (time 0)
    view.setUint32(at + 10, crcs[i], true);
    view.setUint32(at + 14, entries[i].data.length, true);
    view.setUint32(at + 18, entries[i].data.length, true);
    view.setUint16(at + 22, names[i].length, true);
    view.setUint16(at + 24, extraLength, true);
  };
  entries.forEach((e, i) => {
    const { offset: at, padding } = layout[i];
    view.setUint32(at, SIG.local, true);
    common(at + 4, i, padding);
    out.set(names[i], at + 30);
    if (padding) {
      view.setUint16(at + 30 + names[i].length, 0x4246, true); // "FB": PyTorch's padding field id
      view.setUint16(at + 32 + names[i].length, padding - 4, true);
    }
    out.set(e.data, at + 30 + names[i].length + padding);
  });
  let at = directoryOffset;
  entries.forEach((_, i) => {
    view.setUint32(at, SIG.central, true);
    view.setUint16(at + 4, 20, true); // version made by
    common(at + 6, i, 0);
    view.setUint32(at + 42, layout[i].offset, true);
    out.set(names[i], at + 46);
    at += 46 + names[i].length;
  });
  view.setUint32(at, SIG.end, true);
  view.setUint16(at + 8, entries.length, true);
  view.setUint16(at + 10, entries.length, true);
  view.setUint32(at + 12, directorySize, true);
  view.setUint32(at + 16, directoryOffset, true);
  return out;
}
