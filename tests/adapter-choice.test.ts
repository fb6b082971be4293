/**
 * Picking the n-th adapter: the choice among Dawn's enumerated adapters (ffi/adapter-choice.ts),
 * and the enumeration itself on this machine's lavapipe. Two GPUs of one host are only on the
 * GPU machine (docs/DISTRIBUTED.md says what to run there).
 */
import { expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import type { AdapterInfo } from "../ffi/adapter.ts";
import { pickAdapter } from "../ffi/adapter-choice.ts";
import { Gpu } from "../src/gpu/runtime.ts";

// A few GPU dispatches on lavapipe: seconds, 3× headroom for a busy CI machine.
setDefaultTimeout(120_000);

const adapter = (device: string, adapterType: string): AdapterInfo => ({
  vendor: "v", architecture: "", device, description: "", backend: "Vulkan", adapterType, vendorID: 0, deviceID: 0, subgroupMinSize: 32, subgroupMaxSize: 32,
});
const machine = [adapter("H200 a", "discrete GPU"), adapter("llvmpipe", "CPU"), adapter("H200 b", "discrete GPU")];

test("IFLAME_ADAPTER picks by index or name; without it a rank takes the discrete GPU of its local rank", () => {
  expect(pickAdapter(machine, { choice: "1" })).toBe(1);
  expect(pickAdapter(machine, { choice: "LLVMPIPE", localRank: 0 })).toBe(1);
  expect(pickAdapter(machine, { localRank: 0 })).toBe(0);
  expect(pickAdapter(machine, { localRank: 1 })).toBe(2);
  expect(pickAdapter(machine, { localRank: 2 })).toBe(0); // more ranks than GPUs: shared round-robin
  expect(pickAdapter(machine, {})).toBeNull(); // a single process: webgpu.h's high-performance adapter
  expect(pickAdapter([machine[1]], { localRank: 1 })).toBeNull(); // no discrete GPU: the default
  expect(() => pickAdapter(machine, { choice: "3" })).toThrow(
    "IFLAME_ADAPTER=3: no such adapter; this machine has 3: 0 v H200 a (Vulkan, discrete GPU), 1 v llvmpipe (Vulkan, CPU), 2 v H200 b (Vulkan, discrete GPU)",
  );
  expect(() => pickAdapter(machine, { choice: "a100" })).toThrow("IFLAME_ADAPTER=a100: no such adapter");
});

test("Dawn enumerates this machine's adapters (lavapipe here); the device is the one the list names", () => {
  const dev = Gpu.get().dev;
  if (dev.adapters === null) {
    console.warn(`adapter enumeration: skipped, ${dev.library.path} has no dawn::native::Instance::EnumerateAdapters`);
    return;
  }
  expect(dev.adapters.length).toBeGreaterThan(0);
  expect(dev.adapters.some((a) => a.backend === "Null")).toBe(false);
  expect(dev.adapters.map((a) => a.device)).toContain(dev.info.device);
});

test("an adapter index out of range is one line listing the adapters", async () => {
  const p = Bun.spawn([process.execPath, "iflame.ts", "info"], { cwd: join(import.meta.dir, ".."), env: { ...process.env, IFLAME_ADAPTER: "99" }, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  expect(code).toBe(1);
  expect(out).toBe("");
  expect(err.trim().split("\n")).toHaveLength(1);
  expect(err).toMatch(/IFLAME_ADAPTER=99: no such adapter; this machine has \d+: 0 /);
});
