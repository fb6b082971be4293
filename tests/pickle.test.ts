import { expect, test } from "bun:test";
import { join } from "node:path";
import { NdArray, readPickle } from "../src/data/pickle.ts";

const fixture = (name: string) => join(import.meta.dir, "fixtures", name);
const load = async (name: string, options = {}) => readPickle(new Uint8Array(await Bun.file(fixture(name)).arrayBuffer()), { source: name, ...options });

const expectedArrays: Record<string, { shape: number[]; values: string[] }> = await Bun.file(fixture("numpy-arrays.json")).json();

for (const protocol of [2, 5]) {
  test(`numpy arrays of every dtype and order, protocol ${protocol}`, async () => {
    const value = (await load(`numpy-arrays-p${protocol}.pkl`)) as Map<string, unknown>;
    for (const [name, expected] of Object.entries(expectedArrays)) {
      const array = value.get(name) as NdArray;
      expect(array).toBeInstanceOf(NdArray);
      expect(array.shape).toEqual(expected.shape);
      // Compare through strings: int64/uint64 come back as bigint, floats as Python prints them.
      expect(Array.from(array.data as ArrayLike<number | bigint>, (x) => (typeof x === "bigint" ? x.toString() : pyFloat(x, name)))).toEqual(expected.values);
    }
    expect(value.get("i8")).toMatchObject({ dtype: "int64" });
    expect((value.get("f4") as NdArray).data).toBeInstanceOf(Float32Array);
    expect(value.get("scalar_f8")).toBe(0.1);
    const plain = value.get("plain") as unknown[];
    expect(plain.slice(0, 11)).toEqual([null, true, false, 1, -1, 300, -70000, 2n ** 62n, 2n ** 70n, -(2n ** 70n), 0.5]);
    expect(plain[11]).toBe("héllo");
    expect(plain[12]).toEqual(new Uint8Array([0, 255]));
    expect(plain[13]).toEqual([1, 2]);
    expect(plain[14]).toEqual(new Set([3]));
    expect(plain[15]).toEqual(new Map([["k", [1]]]));
    const shared = value.get("shared") as unknown[];
    expect(shared[0]).toBe(shared[1]); // memo keeps object identity
  });
}

/** Python's str() of a float: whole numbers print with ".0" (the fixture's values need no more). */
function pyFloat(x: number, name: string): string {
  return name.startsWith("f") && Number.isInteger(x) && Math.abs(x) < 1e16 ? `${x}.0` : String(x);
}

test("the MeshGPT-layout fixture reads as lists of numpy arrays", async () => {
  const value = (await load("meshgpt-mini.pkl")) as Map<string, unknown>;
  expect([...value.keys()].sort()).toEqual(["faces_train", "faces_val", "name_train", "name_val", "vertices_train", "vertices_val"]);
  expect(value.get("name_train")).toEqual(["03001627_chair_a", "04379243_table_b"]);
  const v = (value.get("vertices_val") as NdArray[])[0];
  expect(v.shape).toEqual([3, 3]);
  expect(Array.from(v.data as Float32Array)).toEqual([0, 0, 0, 2, 0, 0, 0, 3, 0]); // Fortran order came back row-major
});

test("a pickle asking for os.system is refused, naming the global", async () => {
  await expect(load("os-system.pkl")).rejects.toThrow(/os-system\.pkl: byte \d+: global 'posix\.system' is not on the allow-list/);
  // The same request spelled as os.system, protocol 4 STACK_GLOBAL.
  const bytes = new Uint8Array([0x80, 4, 0x8c, 2, ...Buffer.from("os"), 0x8c, 6, ...Buffer.from("system"), 0x93, 0x8c, 1, 0x78, 0x85, 0x52, 0x2e]);
  expect(() => readPickle(bytes)).toThrow("pickle: byte 14: global 'os.system' is not on the allow-list");
});

test("injected globals extend the allow-list", () => {
  // GLOBAL 'collections OrderedDict', EMPTY_TUPLE, REDUCE, STOP
  const bytes = new Uint8Array([0x80, 2, 0x63, ...Buffer.from("collections\nOrderedDict\n"), 0x29, 0x52, 0x2e]);
  expect(() => readPickle(bytes)).toThrow("'collections.OrderedDict' is not on the allow-list");
  expect(readPickle(bytes, { globals: { "collections.OrderedDict": () => new Map() } })).toEqual(new Map());
});

test("truncated and unsupported input fail with a byte offset", () => {
  expect(() => readPickle(new Uint8Array([0x80, 4, 0x8c, 10, 0x61]), { source: "t.pkl" })).toThrow("t.pkl: byte 4: pickle is truncated (wanted 10 bytes, 1 left)");
  expect(() => readPickle(new Uint8Array([0x80, 5, 0x97]))).toThrow("byte 2: unsupported pickle opcode 0x97");
  expect(() => readPickle(new Uint8Array([0x80, 2, 0x51, 0x2e]))).toThrow("byte 2: pickle stack underflow");
});
