import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { openWebGPULibrary } from "../ffi/library.ts";
import { formatWGSLError } from "../ffi/webgpu.ts";
import { Gpu, grid1d } from "../src/gpu/runtime.ts";
import { Profiler } from "../src/gpu/profiler.ts";
import { swigluForward } from "../src/kernels/swiglu.ts";
import fillWgsl from "../wgsl/fill.wgsl" with { type: "text" };

// GPU kernels on lavapipe (a CPU Vulkan driver), compiled in the first test that uses them: about 3× its slowest test on an idle 2-core machine, at least 10 s (bunfig.toml says why).
setDefaultTimeout(120_000);

const gpu = Gpu.get();

describe("library discovery", () => {
  test("reports library and adapter in one line", () => {
    const line = gpu.describe();
    expect(line).toContain("WebGPU: ");
    expect(line).toContain("adapter: ");
    expect(line.split("\n").length).toBe(1);
  });

  test("a wrong IFLAME_WEBGPU_LIB path is a clear error", () => {
    const saved = process.env.IFLAME_WEBGPU_LIB;
    process.env.IFLAME_WEBGPU_LIB = "/nonexistent/libwgpu_native.so";
    try {
      expect(() => openWebGPULibrary()).toThrow(/IFLAME_WEBGPU_LIB=\/nonexistent\/libwgpu_native.so: no such file/);
    } finally {
      if (saved === undefined) delete process.env.IFLAME_WEBGPU_LIB;
      else process.env.IFLAME_WEBGPU_LIB = saved;
    }
  });

  test("a file that is not a library is a clear error", () => {
    process.env.IFLAME_WEBGPU_LIB = import.meta.path;
    try {
      expect(() => openWebGPULibrary()).toThrow(/could not open it as a webgpu.h library/);
    } finally {
      delete process.env.IFLAME_WEBGPU_LIB;
    }
  });
});

describe("features", () => {
  test("webgpu's Dawn is the default library and offers shader-f16", () => {
    if (process.env.IFLAME_WEBGPU_LIB) return; // another library was asked for
    expect(gpu.dev.library.origin).toBe("Dawn (webgpu)");
    expect(gpu.dev.library.path).toEndWith(`dawn.node`);
    expect(gpu.dev.library.version).toStartWith("webgpu@");
    expect(gpu.features.f16).toBe(true);
  });

  test("subgroup-matrix configs are listed only when the device has the feature", () => {
    const configs = gpu.features.subgroupMatrix;
    if (configs === null) return; // lavapipe: no VK_KHR_cooperative_matrix
    for (const c of configs) {
      expect(["f32", "f16", "u32", "i32", "u8", "i8"]).toContain(c.component);
      expect(c.M * c.N * c.K).toBeGreaterThan(0);
    }
  });

  test("an `enable f16;` kernel matches Math.f16round on the CPU", () => {
    if (!gpu.features.f16) return;
    const n = 64;
    const halves = Float16Array.from({ length: n }, (_, i) => (i - 31) * 0.173);
    const a = gpu.upload(new Uint32Array(halves.buffer), [n / 2], "halves"); // two f16 per 4-byte word
    const out = gpu.tensor([n], "f32", "out");
    const k = gpu.kernel({
      file: "f16.wgsl",
      code: `enable f16;
@group(0) @binding(0) var<storage, read> a: array<f16>;
@group(0) @binding(1) var<storage, read_write> o: array<f32>;
@compute @workgroup_size(32) fn main(@builtin(global_invocation_id) g: vec3u) {
  if (g.x >= arrayLength(&o)) { return; }
  let h = a[g.x];
  o[g.x] = f32(h * h + 1.5h);
}`,
    });
    gpu.record((r) => r.dispatch(k, [a, out], n / 32));
    const got = gpu.read(out);
    // f16 arithmetic rounds after each operation; every result here is exact in f16.
    for (let i = 0; i < n; i++) expect(got[i]).toBe(Math.f16round(Math.f16round(halves[i]! * halves[i]!) + 1.5));
    gpu.destroy(a);
    gpu.destroy(out);
  });
});

describe("kernels", () => {
  const square = {
    file: "square.wgsl",
    code: `
@group(0) @binding(0) var<storage, read> a: array<u32>;
@group(0) @binding(1) var<storage, read_write> b: array<u32>;
struct P { n: u32, add: u32 }
@group(0) @binding(2) var<uniform> p: P;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
  if (g.x < p.n) { b[g.x] = a[g.x] * a[g.x] + p.add + BIAS; }
}`,
    constants: { BIAS: 7 },
  };

  test("round trip with exact integer results", () => {
    const n = 1000;
    const a = gpu.upload(Uint32Array.from({ length: n }, (_, i) => i));
    const b = gpu.tensor([n], "u32");
    const k = gpu.kernel(square);
    gpu.record((r) => r.dispatch(k, [a, b], Math.ceil(n / 64), { u32: [n, 3] }));
    const out = gpu.read(b);
    for (let i = 0; i < n; i++) expect(out[i]).toBe(i * i + 3 + 7);
    gpu.destroy(a);
    gpu.destroy(b);
  });

  test("kernels are compiled once per specialisation", () => {
    expect(gpu.kernel(square)).toBe(gpu.kernel(square));
    expect(gpu.kernel({ ...square, constants: { BIAS: 8 } })).not.toBe(gpu.kernel(square));
  });

  test("a WGSL compile error names the file, line and column", () => {
    const bad = { file: "broken.wgsl", code: "@compute @workgroup_size(1)\nfn main() {\n  let x = 1.0;\n  x = oops;\n}\n" };
    expect(() => gpu.kernel(bad)).toThrow(/broken\.wgsl:4:\d+: WGSL error/);
  });

  test("the error formatter points at the source line", () => {
    const msg = formatWGSLError("Error while parsing WGSL: :2:3 error: unresolved value 'q'", "k.wgsl", "a\nbcq\n");
    expect(msg.startsWith("k.wgsl:2:3: WGSL error: unresolved value 'q'\n    bcq\n      ^")).toBe(true);
  });

  test("thousands of workgroups in one dispatch, folded into 2-D", () => {
    const n = 70_000 * 256; // 70k workgroups: more than fit in x alone
    const out = gpu.tensor([n], "f32", "iota");
    const k = gpu.kernel({ file: "fill.wgsl", code: fillWgsl, entry: "iota" });
    const { workgroups, row } = grid1d(n, 256);
    expect(workgroups[1]).toBeGreaterThan(1);
    gpu.record((r) => r.dispatch(k, [out], workgroups, { u32: [n, row], f32: [0, 0] }));
    const data = gpu.read(out) as Float32Array;
    expect(data.length).toBe(n);
    for (const i of [0, 1, 255, 256, 65535 * 256, n - 1]) expect(data[i]).toBe(Math.fround(i));
    gpu.destroy(out);
  });

  test("readback of 64 MiB", () => {
    const n = (64 << 20) / 4;
    const t = gpu.tensor([n], "f32", "big");
    const k = gpu.kernel({ file: "fill.wgsl", code: fillWgsl, entry: "fill" });
    const { workgroups, row } = grid1d(n, 256);
    gpu.record((r) => r.dispatch(k, [t], workgroups, { u32: [n, row], f32: [2.5] }));
    const data = gpu.read(t) as Float32Array;
    expect(data.byteLength).toBe(64 << 20);
    let ok = true;
    for (let i = 0; i < n; i += 4099) ok &&= data[i] === 2.5;
    expect(ok && data[n - 1] === 2.5).toBe(true);
    gpu.destroy(t);
  });

  test("copy and clear", () => {
    const a = gpu.upload(new Float32Array([1, 2, 3, 4]));
    const b = gpu.tensor([4]);
    gpu.record((r) => r.copy(a, b));
    expect([...gpu.read(b)]).toEqual([1, 2, 3, 4]);
    gpu.record((r) => r.clear(a));
    expect([...gpu.read(a)]).toEqual([0, 0, 0, 0]);
  });
});

describe("errors and limits", () => {
  test("an allocation over the limit names the size and the limit", () => {
    const elements = Math.ceil(gpu.limits.maxBufferSize / 4) + 4;
    expect(() => gpu.tensor([elements])).toThrow(/of [\d.]+ [GMK]iB exceeds the device's maxBufferSize [\d.]+ [GM]iB/);
  });

  test("a destroyed tensor cannot be bound", () => {
    const k = gpu.kernel({ file: "fill.wgsl", code: fillWgsl, entry: "fill" });
    const t = gpu.tensor([4], "f32", "gone");
    gpu.destroy(t);
    expect(() => gpu.record((r) => r.dispatch(k, [t], 1, { u32: [4, 256], f32: [1] }))).toThrow(/tensor gone was destroyed/);
  });

  test("validation errors raised inside a submission surface at sync (via the C callbacks)", () => {
    // A 4-byte binding for an array of vec4 (16 bytes at least) fails the dispatch's validation.
    const k = gpu.kernel({
      file: "vec4.wgsl",
      code: "@group(0) @binding(0) var<storage, read_write> a: array<vec4f>;\n@compute @workgroup_size(1) fn main() { a[0] = vec4f(1.0); }",
    });
    const t = gpu.tensor([1], "f32", "small");
    expect(() => {
      gpu.record((r) => r.dispatch(k, [t], 1));
      gpu.sync();
    }).toThrow(/WebGPU error/);
    gpu.destroy(t);
  });

  test("the by-value shim: map, work-done and error-scope callbacks", () => {
    const t = gpu.upload(new Int32Array([5, -6, 7]));
    expect([...gpu.read(t)]).toEqual([5, -6, 7]); // mapAsync + onSubmittedWorkDone go through the shim
    gpu.destroy(t);
  });
});

test("timestamp queries time each dispatch", () => {
  if (!gpu.features.timestampQuery) return;
  const profiler = new Profiler(gpu, 8);
  const n = 1 << 16;
  const t = gpu.tensor([n]);
  const k = gpu.kernel({ file: "fill.wgsl", code: fillWgsl, entry: "fill" });
  const { workgroups, row } = grid1d(n, 256);
  gpu.record((r) => {
    r.label = "fill";
    r.dispatch(k, [t], workgroups, { u32: [n, row], f32: [1] });
    r.dispatch(k, [t], workgroups, { u32: [n, row], f32: [2] });
  }, profiler);
  const timings = profiler.collect();
  expect(timings.length).toBe(1);
  expect(timings[0].label).toBe("fill");
  expect(timings[0].count).toBe(2);
  expect(timings[0].ms).toBeGreaterThanOrEqual(0);
  expect([...gpu.read(t).subarray(0, 2)]).toEqual([2, 2]);
  gpu.destroy(t);
});

test("kernels label their own dispatches by family and shape; a label the caller sets wins", () => {
  if (!gpu.features.timestampQuery) {
    console.log("skipped: this adapter has no timestamp-query");
    return;
  }
  const profiler = new Profiler(gpu, 16, true);
  const x = gpu.tensor([2, 8]), y = gpu.tensor([2, 8]);
  gpu.record((r) => {
    swigluForward(r, { a: x, b: x, h: y });
    swigluForward(r, { a: x, b: x, h: y, label: "feed-forward" });
    r.label = "optimizer";
    swigluForward(r, { a: x, b: x, h: y, label: "ignored" });
    r.label = undefined;
  }, profiler);
  expect(profiler.collect().map((t) => t.label).sort()).toEqual(["feed-forward · forward n=16", "optimizer · forward n=16", "swiglu · forward n=16"]);
  [x, y].forEach((t) => gpu.destroy(t));
});
