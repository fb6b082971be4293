import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { formatWGSLError } from "../ffi/webgpu.ts";
import { loadWgsl } from "../src/gpu/kernel.ts";
import { parseBindings } from "../src/gpu/wgsl-bindings.ts";
import { Gpu } from "../src/gpu/runtime.ts";
import { WGSL_FILES } from "../src/gpu/wgsl-files.ts";

// GPU kernels on lavapipe (a CPU Vulkan driver), compiled in the first test that uses them: about 3× its slowest test on an idle 2-core machine, at least 10 s (bunfig.toml says why).
setDefaultTimeout(120_000);

const files = {
  "main.wgsl": '// main\n//#include "lib.wgsl"\n//#include "other.wgsl"\nfn main_fn() -> f32 { return twice(1.0); }\n',
  "lib.wgsl": '//#include "other.wgsl"\nfn twice(v: f32) -> f32 {\n  return v * 2.0 + oops;\n}\n',
  "other.wgsl": "const ONE = 1u;\n",
};

describe("the WGSL loader", () => {
  test("expands includes recursively, each file once, and maps lines back to their files", () => {
    const { code, locate } = loadWgsl("main.wgsl", undefined, files);
    expect(code.match(/const ONE/g)?.length).toBe(1);
    expect(code).not.toContain("#include");
    const lines = code.split("\n");
    const at = (text: string) => locate(lines.findIndex((l) => l.includes(text)) + 1);
    expect(at("return v * 2.0")).toEqual({ file: "lib.wgsl", line: 3, text: "  return v * 2.0 + oops;" });
    expect(at("const ONE")).toEqual({ file: "other.wgsl", line: 1, text: "const ONE = 1u;" });
    expect(at("fn main_fn")).toMatchObject({ file: "main.wgsl", line: 4 });
  });

  test("a compile error in an included file names that file and its line", () => {
    const { code, locate } = loadWgsl("main.wgsl", undefined, files);
    const line = code.split("\n").findIndex((l) => l.includes("oops")) + 1;
    const dawn = `Error while parsing WGSL: :${line}:22 error: unresolved value 'oops'`;
    const msg = formatWGSLError(dawn, "main.wgsl", code, locate);
    expect(msg.startsWith("lib.wgsl:3:22: WGSL error: unresolved value 'oops'\n      return v * 2.0 + oops;\n")).toBe(true);
  });

  test("a missing include is one clear line naming the including file", () => {
    expect(() => loadWgsl("x.wgsl", '//#include "nope.wgsl"\n', files)).toThrow(/x\.wgsl:1: #include "nope\.wgsl": no such file/);
  });

  test("every file in wgsl/ loads (its includes exist)", () => {
    for (const file of Object.keys(WGSL_FILES)) expect(loadWgsl(file).code.length).toBeGreaterThan(0);
  });

  test("Dawn's line numbers map back through an include (a real compile)", () => {
    const broken = {
      file: "broken.wgsl",
      code: '//#include "workgroup-sum.wgsl"\nconst WG = 64u;\n@compute @workgroup_size(1)\nfn main() {\n  let x = oops;\n}\n',
    };
    expect(() => Gpu.get().kernel(broken)).toThrow(/^broken\.wgsl:5:\d+: WGSL error/);
  });
});

describe("the bindings of an entry point", () => {
  const module = `
struct P { n: u32, out: u32 }
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<uniform> p: P;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<f32>;
@group(0) @binding(3) var<storage, read_write> da: array<f32>;
const SCALE = 2.0;
fn helper(i: u32) -> f32 { return a[i] * SCALE; }
/* out[0] = 1.0; in a comment */
@compute @workgroup_size(1) fn forward() { out[0] = helper(p.n); }
@compute @workgroup_size(1) fn backward() {
  // 'out' here is a local, and p.out a member: neither is the binding
  let out = dout[0];
  for (var da = 0u; da < 1u; da++) { }
  { var a = 1.0; }
  da[0] = out;
}
@compute @workgroup_size(1) fn shadowed(out: u32) { let x = f32(out); }
`;
  const used = (entry: string) => parseBindings("m.wgsl", module, entry).map((b) => `${b.binding}:${b.type}`);

  test("come from the functions and constants it reaches, scope-aware", () => {
    expect(used("forward")).toEqual(["0:read-only-storage", "1:uniform", "2:storage"]);
    // the for-loop's da and the block's a are locals; da[0] after the loop is the binding
    expect(used("backward")).toEqual(["2:read-only-storage", "3:storage"]);
    expect(used("shadowed")).toEqual([]);
  });

  test("an unknown entry point is one clear line", () => {
    expect(() => parseBindings("m.wgsl", module, "nope")).toThrow("m.wgsl: no entry point 'nope'");
  });
});
