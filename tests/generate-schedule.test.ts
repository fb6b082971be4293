/** The level schedule hands every level exactly the inputs the full forward gives it. */
import { expect, test } from "bun:test";
import { stepLevels } from "../src/generate/schedule.ts";
import { levelLengths } from "../src/model/levels.ts";

test("each coarse output is made by the first step that has its inputs, and is the newest when consumed", () => {
  let coarseDone = -1; // newest enc1/dec0 position computed
  let bottleneckDone = -1;
  for (let t = 0; t < 200; t++) {
    const { coarse, bottleneck } = stepLevels(t);
    if (coarse !== null) {
      // enc1 at j pools e0[3j..3j+2]: all computed by now, and 3j+2 only now.
      expect(3 * coarse + 2).toBe(t);
      expect(coarse).toBe(coarseDone + 1);
      if (bottleneck !== null) {
        expect(3 * bottleneck + 2).toBe(coarse);
        expect(bottleneck).toBe(bottleneckDone + 1);
        bottleneckDone = bottleneck;
      }
      // dec0 at j reads b[(j − 2) div 3] (shift2 ∘ upsample3), none for j < 2: the newest one.
      expect(coarse < 2 ? -1 : Math.floor((coarse - 2) / 3)).toBe(bottleneckDone);
      coarseDone = coarse;
    }
    // dec1 at t reads d0[(t − 2) div 3], none for t < 2: the newest one.
    expect(t < 2 ? -1 : Math.floor((t - 2) / 3)).toBe(coarseDone);
    expect(levelLengths(t + 1)).toEqual([t + 1, coarseDone + 1, bottleneckDone + 1, coarseDone + 1, t + 1]);
  }
});
