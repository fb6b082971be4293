import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inferConfig, convertTorchCheckpoint, exportTorchCheckpoint, loadTorchModel } from "../src/interop/convert.ts";
import { PyCall, PyGlobalRef, PyPersistentId, type PyValue, writePickle } from "../src/interop/pickle-writer.ts";
import { decodeSafetensors, encodeSafetensors } from "../src/interop/safetensors.ts";
import { checkStateDict, encodeTorchCheckpoint, modelStateDict, stripPrefixes, TorchArchive, type TorchTensor } from "../src/interop/torch.ts";
import { writeStoredZip } from "../src/interop/zip.ts";
import { type IFlameConfig, ModelConfigSchema, PRESETS } from "../src/model/config.ts";
import { initParams, paramSpecs } from "../src/model/params.ts";

// Python pickles and checkpoint conversions: about 3× its slowest test on an idle 2-core machine, at least 10 s (bunfig.toml says why).
setDefaultTimeout(120_000);

const scratch = mkdtempSync(join(tmpdir(), "iflame-interop-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const root = join(import.meta.dir, "..");
const fixtureScript = join(root, "scripts", "parity", "make-torch-fixtures.py");
const realFixtures = join(import.meta.dir, "fixtures", "torch");
const python = Bun.which("python3");

function runPython(args: string[]): string {
  const result = Bun.spawnSync([python!, fixtureScript, ...args], { stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`make-torch-fixtures.py ${args.join(" ")} failed:\n${result.stderr.toString()}`);
  return result.stdout.toString();
}

/** The smallest config the schema takes: one head of 32, six blocks, every 2nd one full. */
const SMALL: IFlameConfig = ModelConfigSchema.parse({ name: "small", dim: 32, heads: 1, blocksPerLevel: [1, 1, 2, 1, 1], fullPeriod: 2, vocab: 132, maxFaces: 767 });

type Weights = Record<string, { shape: number[]; data: Float32Array }>;

/** Our checkpoint folder as the trainer writes it (model.safetensors, config in the metadata). */
async function writeOurCheckpoint(dir: string, config: IFlameConfig, seed: number): Promise<Weights> {
  const params = initParams(config, seed);
  const weights: Weights = Object.fromEntries(paramSpecs(config).map((s) => [s.name, { shape: s.shape, data: params[s.name] }]));
  await mkdir(dir, { recursive: true });
  await Bun.write(join(dir, "model.safetensors"), encodeSafetensors(weights, { format: "iflame", step: "5", config: JSON.stringify(config) }));
  return weights;
}

async function readOurCheckpoint(dir: string) {
  const { tensors, metadata } = decodeSafetensors(new Uint8Array(await Bun.file(join(dir, "model.safetensors")).arrayBuffer()));
  return { tensors, config: JSON.parse(metadata.config) };
}

const shapesOf = (config: IFlameConfig, prefix = "") => new Map(paramSpecs(config).map((s) => [prefix + s.name, s.shape]));

interface Expected {
  prefix: string;
  epoch: number;
  loss: number;
  data_iter_step: number;
  optimizer_step: number;
  tensors: Record<string, { dtype: string; shape: number[]; values: number[] }>;
}

/** Every .pth in `dir` holds what its expected.json says (fixtures from torch or from the stand-in). */
async function expectFixtures(dir: string): Promise<void> {
  const expected: Expected = await Bun.file(join(dir, "expected.json")).json();
  const files = readdirSync(dir).filter((f) => f.endsWith(".pth"));
  expect(files.length).toBeGreaterThan(0);
  for (const f of files) {
    const path = join(dir, f);
    const archive = TorchArchive.open(path);
    try {
      const top = archive.root as Map<string, unknown>;
      expect([top.get("epoch"), top.get("loss"), top.get("data_iter_step")]).toEqual([expected.epoch, expected.loss, expected.data_iter_step]);
      const saved = top.get("model_state_dict") as Map<string, TorchTensor>;
      expect([...saved.keys()].every((k) => k.startsWith(expected.prefix))).toBe(true);
      const weights = modelStateDict(top, path);
      expect([...weights.keys()].sort()).toEqual(Object.keys(expected.tensors).sort());
      for (const [name, e] of Object.entries(expected.tensors)) {
        const t = weights.get(name)!;
        expect({ file: f, name, dtype: t.dtype, shape: t.shape }).toEqual({ file: f, name, dtype: e.dtype as TorchTensor["dtype"], shape: e.shape });
        const values = e.dtype === "int64" ? Array.from(t.toBigInt64(), Number) : Array.from(t.toFloat32());
        expect(values).toEqual(e.values);
      }
      expect(weights.get("transposed")!.stride).toEqual([1, 4]); // the fixture really is non-contiguous
      expect(weights.get("offset_view")!.offset).toBe(3);
      const optimizer = top.get("optimizer_state_dict") as Map<string, Map<number, Map<string, TorchTensor>>>;
      const step = optimizer.get("state")!.get(0)!.get("step")!;
      expect([step.shape, Array.from(step.toFloat32())]).toEqual([[], [expected.optimizer_step]]);
    } finally {
      archive.close();
    }
  }
}

describe("reading torch.save archives", () => {
  test.skipIf(!python)("zips written by Python through a stand-in torch module (f32/f16/bf16/int64, strided, offset, ZIP64, big-endian, v3)", async () => {
    const dir = join(scratch, "fake-torch");
    runPython(["--fake-torch", "--out", dir]);
    expect(readdirSync(dir).filter((f) => f.endsWith(".pth")).sort()).toEqual(["checkpoint-big-endian.pth", "checkpoint-v3.pth", "checkpoint-zip64.pth", "checkpoint.pth"]);
    await expectFixtures(dir);
  });

  test.skipIf(!existsSync(join(realFixtures, "expected.json")))("fixtures written by PyTorch (tests/fixtures/torch)", async () => {
    await expectFixtures(realFixtures);
  });

  test("wrapper prefixes are stripped; a collision is an error", () => {
    const stripped = stripPrefixes(new Map([["module._orig_mod.a.weight", 1], ["_orig_mod.b", 2], ["c", 3]]), "f.pth");
    expect([...stripped]).toEqual([["a.weight", 1], ["b", 2], ["c", 3]]);
    expect(() => stripPrefixes(new Map([["_orig_mod.a", 1], ["a", 2]]), "f.pth")).toThrow("f.pth: two entries become 'a'");
  });

  test("missing, unexpected and wrongly shaped parameters are named", () => {
    const shapes = shapesOf(SMALL);
    shapes.delete("bottleneckd.0.attn.q_proj.weight");
    shapes.set("encoder_blocks.0.0.attn.extra.weight", [3]);
    shapes.set("output_proj.bias", [131]);
    let message = "";
    try {
      checkStateDict(shapes, SMALL, "w.pth");
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toStartWith("w.pth: weights do not match the model");
    expect(message).toContain("1 missing: bottleneckd.0.attn.q_proj.weight");
    expect(message).toContain("1 unexpected: encoder_blocks.0.0.attn.extra.weight");
    expect(message).toContain("1 wrong shape: output_proj.bias [131] (expected [132])");
  });
});

/** A torch-layout zip around a hand-written pickle, for malformed inputs. */
function zipWithPickle(root: PyValue, storages: { key: string; bytes: number }[] = []): Uint8Array {
  return writeStoredZip([
    { name: "bad/data.pkl", data: writePickle(root) },
    ...storages.map((s) => ({ name: `bad/data/${s.key}`, data: new Uint8Array(s.bytes) })),
  ]);
}
const G = (m: string, n: string) => new PyGlobalRef(m, n);
const tensorCall = (key: string, numel: number, shape: number[], stride: number[], offset = 0, storageClass = "FloatStorage") =>
  new PyCall(G("torch._utils", "_rebuild_tensor_v2"), [new PyPersistentId(["storage", G("torch", storageClass), key, "cpu", numel]), offset, shape, stride, false, new PyCall(G("collections", "OrderedDict"), [])]);

describe("bad inputs fail with clear errors naming the file", () => {
  const good = encodeTorchCheckpoint([["w", { shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) }]], { archiveName: "good" });

  test("the writer's own output reads back", () => {
    const archive = TorchArchive.fromBytes(good, "good.pth");
    expect(Array.from(modelStateDict(archive.root, "good.pth").get("w")!.toFloat32())).toEqual([1, 2, 3, 4, 5, 6]);
  });

  test("truncated files", () => {
    expect(() => TorchArchive.fromBytes(good.subarray(0, good.length - 10), "cut.pth")).toThrow("cut.pth: not a zip archive or truncated");
    expect(() => TorchArchive.fromBytes(good.subarray(0, 100), "cut.pth")).toThrow("cut.pth:");
    expect(() => TorchArchive.fromBytes(new Uint8Array(0), "empty.pth")).toThrow("empty.pth: not a zip archive");
  });

  test("a corrupt storage fails its CRC when read", () => {
    const bad = good.slice();
    bad[findEntryData(bad, "good/data/0") + 1] ^= 0xff;
    const archive = TorchArchive.fromBytes(bad, "crc.pth");
    expect(() => modelStateDict(archive.root, "crc.pth").get("w")!.toFloat32()).toThrow("crc.pth: entry 'good/data/0' is corrupt (CRC-32 mismatch)");
  });

  test("a compressed entry is refused", () => {
    const bad = good.slice();
    const view = new DataView(bad.buffer);
    const central = findCentralEntry(bad, "good/data.pkl");
    view.setUint16(central + 10, 8, true); // method: deflate
    expect(() => TorchArchive.fromBytes(bad, "deflate.pth")).toThrow("deflate.pth: entry 'good/data.pkl' is compressed");
  });

  test("pickles asking for other globals are refused", () => {
    for (const [m, n] of [["os", "system"], ["builtins", "eval"], ["torch", "load"]]) {
      const bytes = zipWithPickle(new PyCall(G("collections", "OrderedDict"), [], new Map<string, PyValue>([["x", new PyCall(G(m, n), ["echo hi"])]])));
      expect(() => TorchArchive.fromBytes(bytes, "evil.pth")).toThrow(`evil.pth (bad/data.pkl): byte`);
      expect(() => TorchArchive.fromBytes(bytes, "evil.pth")).toThrow(`global '${m}.${n}' is not on the allow-list`);
    }
  });

  test("malformed tensors and storages", () => {
    const cases: [PyValue, { key: string; bytes: number }[], string][] = [
      [tensorCall("0", 6, [2, 3], [3, 1]), [], "bad.pth: storage 0 has no entry bad/data/0"],
      [tensorCall("0", 6, [2, 3], [3, 1]), [{ key: "0", bytes: 20 }], "needs 24 bytes but bad/data/0 has 20"],
      [tensorCall("0", 6, [2, 3], [3, 1], 1), [{ key: "0", bytes: 24 }], "reaches element 6 of a storage of 6"],
      [tensorCall("0", 6, [2, 3], [3]), [{ key: "0", bytes: 24 }], "size and stride are not tuples of the same length"],
      // A 4-byte storage viewed with stride 0 as [4096, 4096]: 64 MB per tensor from a 14 KB file.
      [tensorCall("0", 1, [4096, 4096], [0, 0]), [{ key: "0", bytes: 4 }], "holds 16777216 values, more than its storage's 1 (broadcast views are not read)"],
      [tensorCall("0", 6, [6], [1], 0, "ComplexFloatStorage"), [{ key: "0", bytes: 48 }], "global 'torch.ComplexFloatStorage' is not on the allow-list"],
      [new PyCall(G("torch", "FloatStorage"), []), [], "torch.FloatStorage may only appear as a tag"],
    ];
    for (const [value, storages, message] of cases) {
      expect(() => TorchArchive.fromBytes(zipWithPickle(value, storages), "bad.pth")).toThrow(message);
    }
  });

  test("no model weights, a non-archive, a legacy torch.save stream", () => {
    const noWeights = TorchArchive.fromBytes(zipWithPickle(new Map<string, PyValue>([["epoch", 3]])), "empty.pth");
    expect(() => modelStateDict(noWeights.root, "empty.pth")).toThrow("empty.pth: no model weights: expected a state dict of tensors or a dict with 'model_state_dict' (its keys: epoch)");
    expect(() => TorchArchive.fromBytes(writeStoredZip([{ name: "x/other.pkl", data: new Uint8Array(1) }]), "odd.pth")).toThrow("odd.pth: not a torch.save archive");
    expect(() => TorchArchive.fromBytes(writePickle(3), "old.pth")).toThrow("old.pth: legacy (pre-1.6) torch.save format");
    const ints = TorchArchive.fromBytes(zipWithPickle(new Map<string, PyValue>([["n", tensorCall("0", 2, [2], [1], 0, "LongStorage")]]), [{ key: "0", bytes: 16 }]), "ints.pth");
    const n = (ints.root as Map<string, TorchTensor>).get("n")!;
    expect(Array.from(n.toBigInt64())).toEqual([0n, 0n]);
    expect(() => n.toFloat32()).toThrow("ints.pth: tensor of dtype int64 read as floating point");
  });
});

/** Where an entry's data starts: after its local header, name and extra field. */
function findEntryData(zip: Uint8Array, name: string): number {
  const view = new DataView(zip.buffer, zip.byteOffset);
  const offset = view.getUint32(findCentralEntry(zip, name) + 42, true);
  return offset + 30 + view.getUint16(offset + 26, true) + view.getUint16(offset + 28, true);
}

function findCentralEntry(zip: Uint8Array, name: string): number {
  const view = new DataView(zip.buffer, zip.byteOffset);
  const wanted = new TextEncoder().encode(name);
  for (let at = zip.length - 22; at >= 0; at--) {
    if (view.getUint32(at, true) === 0x02014b50 && view.getUint16(at + 28, true) === wanted.length && wanted.every((b, i) => zip[at + 46 + i] === b)) return at;
  }
  throw new Error(`no central directory entry ${name}`);
}

describe("config inference", () => {
  test("the ShapeNet state dict gives the ShapeNet config", () => {
    const shapes = shapesOf(ModelConfigSchema.parse(PRESETS.shapenet));
    expect(paramSpecs(ModelConfigSchema.parse(PRESETS.shapenet)).reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0)).toBeGreaterThan(75e6);
    const config = inferConfig(shapes, {}, "shapenet.pth");
    expect(config).toEqual({ ...ModelConfigSchema.parse(PRESETS.shapenet), name: "shapenet" });
    // Prefixed keys as the reference saves them go through stripPrefixes first.
    const prefixed = stripPrefixes(shapesOf(ModelConfigSchema.parse(PRESETS.shapenet), "_orig_mod."), "x.pth");
    expect(inferConfig(prefixed, { name: "ref", maxFaces: 4000 }, "x.pth")).toMatchObject({ name: "ref", maxFaces: 4000, dim: 512, heads: 16 });
  });

  test("other layouts: blocks per level and the full-attention period", () => {
    for (const [blocksPerLevel, fullPeriod] of [[[2, 2, 4, 2, 2], 3], [[1, 1, 2, 1, 1], 7], [[3, 1, 2, 1, 1], 1]] as const) {
      const config = ModelConfigSchema.parse({ name: "x", dim: 64, heads: 2, blocksPerLevel, fullPeriod, vocab: 132, maxFaces: 48 });
      expect(inferConfig(shapesOf(config), { name: "x", maxFaces: 48 }, "x.pth")).toEqual(config);
    }
  });

  test("what cannot be inferred or used is reported", () => {
    const shapes = shapesOf(SMALL);
    expect(() => inferConfig(shapes, { heads: 2 }, "h.pth")).toThrow("h.pth: the inferred config (dim 32, vocab 132, blocks [1,1,2,1,1]) is not usable: heads: dim (32) must equal heads × 32");
    const odd = new Map(shapes);
    odd.delete("encoder_blocks.0.0.attn.rms_norm.weight"); // block 1 becomes full: blocks 1, 2, 4, 6 full
    expect(() => inferConfig(odd, {}, "o.pth")).toThrow(`o.pth: blocks are full (F) / linear (l) attention as FFlFlF, which no "every p-th block is full" rule gives`);
    const noEmbedding = new Map(shapes);
    noEmbedding.delete("embedding.weight");
    expect(() => inferConfig(noEmbedding, {}, "e.pth")).toThrow("e.pth: no 2-D embedding.weight");
    const uneven = new Map([...shapes].filter(([k]) => !k.startsWith("bottlenecke.0.")));
    expect(() => inferConfig(uneven, {}, "u.pth")).toThrow("u.pth: no weights for block bottlenecke.0 (blocks per level [1,1,1,1,1], the bottleneck split evenly)");
    const gap = new Map([...shapesOf(PRESETS.tiny)].filter(([k]) => !k.startsWith("decoder_blocks.1.0.")));
    expect(() => inferConfig(gap, {}, "g.pth")).toThrow("g.pth: no weights for block decoder_blocks.1.0 ");
    const stray = new Map([...shapes, ["decoder_blocks.0.0.feed_forward.proj4.weight", [3]]]);
    expect(() => inferConfig(stray, {}, "s.pth")).toThrow("s.pth: weights do not match the model (dim 32, blocks [1,1,2,1,1], fullPeriod 2): 1 unexpected: decoder_blocks.0.0.feed_forward.proj4.weight");
  });
});

describe("conversion both ways", () => {
  test("ours → .pth → ours is identical, in both layouts", async () => {
    const ours = join(scratch, "ours");
    const weights = await writeOurCheckpoint(ours, SMALL, 7);
    for (const layout of ["state-dict", "reference"] as const) {
      const pth = join(scratch, `small-${layout}.pth`);
      await exportTorchCheckpoint(ours, pth, { layout, epoch: 9 });
      const archive = TorchArchive.open(pth);
      const top = archive.root as Map<string, unknown>;
      if (layout === "reference") {
        expect(top.get("epoch")).toBe(9);
        expect([...(top.get("model_state_dict") as Map<string, unknown>).keys()][0]).toBe("_orig_mod.skip_weights2");
      } else {
        expect([...top.keys()]).toEqual(paramSpecs(SMALL).map((s) => s.name)); // the reference's order
      }
      archive.close();
      const back = join(scratch, `back-${layout}`);
      const { config } = await convertTorchCheckpoint(pth, back, { name: "small" });
      expect(config).toEqual(SMALL);
      const reread = await readOurCheckpoint(back);
      expect(reread.config).toEqual(SMALL);
      expect(Object.keys(reread.tensors).sort()).toEqual(Object.keys(weights).sort());
      for (const [name, w] of Object.entries(weights)) {
        expect(reread.tensors[name].shape).toEqual(w.shape);
        expect(Buffer.from(reread.tensors[name].data.buffer, reread.tensors[name].data.byteOffset, reread.tensors[name].data.byteLength).equals(Buffer.from(w.data.buffer, w.data.byteOffset, w.data.byteLength))).toBe(true);
      }
    }
  });

  test("a run folder exports its latest checkpoint; loadTorchModel gives the weights directly", async () => {
    const run = join(scratch, "run");
    const weights = await writeOurCheckpoint(join(run, "checkpoints", "step-00000005"), SMALL, 3);
    await Bun.write(join(run, "checkpoints", "step-00000005", "state.json"), "{}");
    await Bun.write(join(run, "latest.json"), JSON.stringify({ checkpoint: "checkpoints/step-00000005", step: 5 }));
    const pth = join(scratch, "run.pth");
    await exportTorchCheckpoint(run, pth);
    const { config, params } = loadTorchModel(pth, { name: "small" });
    expect(config).toEqual(SMALL);
    expect(Array.from(params.get("embedding.weight")!.data)).toEqual(Array.from(weights["embedding.weight"].data));
    await expect(exportTorchCheckpoint(join(scratch, "nowhere"), pth)).rejects.toThrow("nowhere: no model.safetensors and no latest.json");
  });

  test.skipIf(!python)("Python's zipfile + pickle (torch's names only) read our export", async () => {
    const ours = join(scratch, "for-python");
    const weights = await writeOurCheckpoint(ours, SMALL, 11);
    const pth = join(scratch, "for-python.pth");
    await exportTorchCheckpoint(ours, pth, { layout: "reference" });
    const loaded = JSON.parse(runPython(["--fake-torch", "--load", pth]));
    expect(loaded.scaler_state_dict).toEqual({ scale: 65536, growth_factor: 2, backoff_factor: 0.5, growth_interval: 2000, _growth_tracker: 0 });
    const state = loaded.model_state_dict as Record<string, { dtype: string; shape: number[]; values: number[] }>;
    expect(Object.keys(state)).toEqual(paramSpecs(SMALL).map((s) => `_orig_mod.${s.name}`));
    for (const [name, w] of Object.entries(weights)) {
      const t = state[`_orig_mod.${name}`];
      expect([t.dtype, t.shape]).toEqual(["float32", w.shape]);
      expect(t.values).toEqual(Array.from(w.data)); // JSON carries each f32 exactly
    }
  });
});

describe("safetensors headers that are not what they say fail naming the file", () => {
  const withHeader = (json: string) => {
    const text = new TextEncoder().encode(json);
    const out = new Uint8Array(8 + text.length);
    new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
    out.set(text, 8);
    return out;
  };
  test.each([
    ["null", "m.safetensors: header is null, not a JSON object of tensors"],
    ["[1, 2]", "m.safetensors: header is an array, not a JSON object of tensors"],
    ['"x"', "m.safetensors: header is string, not a JSON object of tensors"],
    ['{"__metadata__": {"config": {"dim": 64}}}', "m.safetensors: __metadata__.config: "],
    ['{"__metadata__": {"step": 3}}', "(metadata values must be strings)"],
    ['{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0]}}', "m.safetensors: tensor w: data_offsets"],
    ['{"w": {"dtype": "F32", "shape": [1e6], "data_offsets": [0, 4000000]}}', "m.safetensors: tensor w [1000000] F32: data [0, 4000000) does not match its shape or runs past the end of the file"],
    ["{not json", "m.safetensors: header is not JSON"],
  ])("%s", (json, message) => {
    expect(() => decodeSafetensors(withHeader(json), "m.safetensors")).toThrow(message);
  });
  test("a header length past the end of the file", () => {
    const bytes = withHeader("{}");
    new DataView(bytes.buffer).setBigUint64(0, 1n << 60n, true);
    expect(() => decodeSafetensors(bytes, "m.safetensors")).toThrow("m.safetensors: header of 1152921504606846976 bytes runs past the end of the file (10 bytes)");
  });
});
