/**
 * Every other platform's single binary (scripts/build.ts), built once each and checked without
 * running it: an executable of its platform (ELF / Mach-O / PE header and machine type) that
 * carries the bytes of its Dawn library. Opt-in, since four ~130 MiB cross-builds (their Bun
 * runtimes fetched from the npm registry) take longer than the rest of the suite:
 * IFLAME_TEST_TARGETS=1 bun test tests/binary-targets.test.ts (.ci/run does).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildBinary, HOST, packageFile, TARGETS, type Target } from "../scripts/build.ts";

const skip = !process.env.IFLAME_TEST_TARGETS;
if (skip) console.log("other platforms' binaries skipped: set IFLAME_TEST_TARGETS=1 to build and check them");

/** Format and machine of an executable, from its header. */
function executableKind(header: Uint8Array): string {
  const v = new DataView(header.buffer, header.byteOffset, header.byteLength);
  if (v.getUint32(0) === 0x7f454c46) return `ELF machine ${v.getUint16(0x12, true)}`;
  if (v.getUint32(0, true) === 0xfeedfacf) return `Mach-O cpu 0x${v.getUint32(4, true).toString(16)}`;
  if (v.getUint16(0, true) === 0x5a4d) {
    const pe = v.getUint32(0x3c, true);
    if (v.getUint32(pe) === 0x50450000) return `PE machine 0x${v.getUint16(pe + 4, true).toString(16)}`;
  }
  return "unknown";
}

const expectedKind: Record<string, string> = {
  "linux-x64": "ELF machine 62",
  "linux-arm64": "ELF machine 183",
  "darwin-arm64": "Mach-O cpu 0x100000c",
  "darwin-x64": "Mach-O cpu 0x1000007",
  "win32-x64": "PE machine 0x8664",
};

describe.skipIf(skip)("every other platform's binary", () => {
  const others = TARGETS.filter((t) => t !== HOST);
  const built = new Map<Target, string | Error>();
  let out: string;

  /** Bun fetches foreign runtimes (and npm pack foreign Dawn packages) from the npm registry. */
  let offline = false;

  beforeAll(async () => {
    offline = !(await fetch("https://registry.npmjs.org/-/ping", { signal: AbortSignal.timeout(5000) }).then((r) => r.ok, () => false));
    if (offline) {
      console.log("other platforms' binaries skipped: the npm registry is unreachable (Bun fetches their runtimes from it)");
      return;
    }
    out = await mkdtemp(join(tmpdir(), "iflame-targets-"));
    for (const target of others) built.set(target, await buildBinary(target, out).catch((e: Error) => e));
  }, 600_000);

  afterAll(() => out && rm(out, { recursive: true, force: true }));

  for (const target of others) {
    test(`${target.name}: an executable of its platform carrying ${target.dawn.package}'s Dawn`, async () => {
      if (offline) return;
      const binary = built.get(target)!;
      if (binary instanceof Error) throw binary;
      const bytes = new Uint8Array(await Bun.file(binary).arrayBuffer());
      expect(executableKind(bytes.subarray(0, 4096))).toBe(expectedKind[target.name]!);
      const dawn = new Uint8Array(await Bun.file(await packageFile(target.dawn.package, target.dawn.file)).arrayBuffer());
      // 256 bytes from the middle of the library (code, not a header every build shares).
      const middle = Math.floor(dawn.length / 2);
      expect(Buffer.from(bytes.buffer).indexOf(dawn.subarray(middle, middle + 256))).toBeGreaterThan(0);
    });
  }
});
