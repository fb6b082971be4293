/**
 * IFlameModel.backwardSegments, on which data-parallel training's overlap rests: every gradient
 * is in exactly one segment, and each is final (bit for bit) once its segment has been submitted
 * and run, while the work of later segments is still to come. Submitting segment by segment
 * changes no gradient.
 */
import { expect, setDefaultTimeout, test } from "bun:test";
import { Gpu } from "../src/gpu/runtime.ts";
import { countTargets } from "../src/kernels/cross-entropy.ts";
import { ModelConfigSchema } from "../src/model/config.ts";
import { IFlameModel } from "../src/model/model.ts";
import { pcgHash } from "../src/util/rng.ts";

// A few GPU dispatches on lavapipe: seconds, 3× headroom for a busy CI machine.
setDefaultTimeout(120_000);

// Two blocks a level, full and linear attention: each level's gradients are written by several blocks.
const config = ModelConfigSchema.parse({ name: "segments", dim: 32, heads: 1, blocksPerLevel: [2, 2, 2, 2, 2], fullPeriod: 2, vocab: 132, maxFaces: 4 });
const B = 2, L = 36;

test("each backward segment's gradients are final once it has run; segmented submission changes nothing", () => {
  const gpu = Gpu.get();
  const model = new IFlameModel(gpu, config, B, L);
  const names = new Map([...model.grads].map(([name, t]) => [t, name]));
  const listed = model.backwardSegments.flatMap((s) => s.grads.map((t) => names.get(t)));
  expect(listed.toSorted()).toEqual([...model.grads.keys()].toSorted());
  expect(model.backwardSegments.map((s) => s.name)).toEqual(["dec1", "dec0", "bottleneck", "enc1", "enc0", "stem"]);

  model.initParams(5);
  const tokens = Int32Array.from({ length: B * L }, (_, i) => pcgHash(i + 11) % 129);
  model.setTokens(tokens);
  model.setLossScale(1 / countTargets(tokens, B, L));
  const run = (afterSegment?: (segment: number, flush: () => void) => void) => {
    gpu.record((r) => {
      model.zeroGrads(r);
      model.forward(r);
      model.loss(r);
      model.backward(r, afterSegment && { afterSegment: (i) => afterSegment(i, () => r.flush()) });
    });
    return model.readGrads();
  };
  const whole = run();

  // At each segment's end: submit, let the GPU finish, and read every gradient.
  const snapshots: Record<string, Float32Array>[] = [];
  const segmented = run((i, flush) => {
    flush();
    snapshots[i] = model.readGrads();
  });
  expect(snapshots.length).toBe(model.backwardSegments.length);
  for (const name of model.grads.keys()) expect(segmented[name]).toEqual(whole[name]);
  model.backwardSegments.forEach((segment, i) => {
    for (const t of segment.grads) {
      const name = names.get(t)!;
      expect({ name, final: snapshots[i][name] }).toEqual({ name, final: whole[name] });
      // Not final before: the segment does change it (every gradient here is nonzero).
      if (i > 0) expect({ name, changed: !Bun.deepEquals(snapshots[i - 1][name], whole[name]) }).toEqual({ name, changed: true });
    }
  });
});
