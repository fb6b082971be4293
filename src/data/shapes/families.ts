/**
 * Object families of the shapes dataset: furniture and tableware assembled from boxes,
 * cylinders, lathed profiles, ellipsoids and tori, with random proportions, part counts and part
 * styles. Every random number is drawn whatever the detail level (the Assembly only uses detail
 * for tessellation), so the same draw rebuilt at a coarser level is the same object with fewer
 * faces. Sizes are in a common unit (a chair seat about 0.45 high); thin parts stay above ~1.5%
 * of an object's largest extent so they survive the tokenizer's 1/128 quantization.
 */
import type { BufferGeometry } from "three";
import type { SeededRandom } from "../random.ts";
import { Assembly, corners } from "./assembly.ts";

type Family = (r: SeededRandom, a: Assembly) => BufferGeometry;

/** Four legs under a w × d top whose underside is at `height`: square or round, straight or splayed. */
function legs(r: SeededRandom, a: Assembly, w: number, d: number, height: number): void {
  const thick = r.uniform(0.035, 0.07) * Math.max(1, Math.min(w, d));
  const inset = thick / 2 + r.uniform(0, 0.08) * Math.min(w, d);
  const style = r.pick(["square", "round", "splayed"] as const);
  a.each(corners(w, d, inset), (x, z) => {
    if (style === "square") a.box(thick, height, thick, x, height / 2, z);
    else if (style === "round") a.cylinder({ radius: thick / 2, height, x, bottom: 0, z });
    else a.rod(thick / 2, [x * 1.15, 0, z * 1.15], [x, height, z]);
  });
}

const table: Family = (r, a) => {
  const [w, d, height, top] = [r.uniform(0.8, 1.8), r.uniform(0.5, 1.0), r.uniform(0.55, 0.8), r.uniform(0.03, 0.07)];
  const shape = r.pick(["rectangle", "rectangle", "round"] as const);
  const pedestal = r.next() < 0.5;
  const shelf = r.next() < 0.3;
  if (shape === "round") {
    const radius = d / 2 + 0.15;
    a.cylinder({ radius, height: top, bottom: height - top, sides: a.sides(2) });
    if (pedestal) {
      a.cylinder({ radius: radius * 0.12, height: height - top, bottom: 0 });
      a.cylinder({ radius: radius * 0.55, top: radius * 0.4, height: 0.05, bottom: 0 });
    } else legs(r, a, radius * 1.3, radius * 1.3, height - top);
  } else {
    a.box(w, top, d, 0, height - top / 2, 0);
    legs(r, a, w, d, height - top);
    if (shelf) a.box(w * 0.85, top * 0.8, d * 0.8, 0, height * 0.25, 0);
  }
  return a.build();
};

const chair: Family = (r, a) => {
  const [w, d, seatY, seat] = [r.uniform(0.4, 0.6), r.uniform(0.4, 0.55), r.uniform(0.4, 0.5), r.uniform(0.04, 0.08)];
  const backHeight = r.uniform(0.3, 0.6);
  const back = r.pick(["panel", "slats", "spindles"] as const);
  const bars = r.int(2, 4);
  const arms = r.next() < 0.3;
  legs(r, a, w, d, seatY - seat);
  a.box(w, seat, d, 0, seatY - seat / 2, 0);
  const post = 0.045;
  const backZ = -d / 2 + post / 2;
  if (back === "panel") a.box(w, backHeight, post, 0, seatY + backHeight / 2, backZ);
  else {
    for (const x of [-w / 2 + post / 2, w / 2 - post / 2]) a.box(post, backHeight, post, x, seatY + backHeight / 2, backZ);
    for (let i = 0; i < bars; i++) {
      if (back === "slats") a.box(w - 2 * post, 0.05, post * 0.6, 0, seatY + backHeight * ((i + 1) / bars) - 0.025, backZ);
      else a.cylinder({ radius: 0.012, height: backHeight, x: -w / 2 + post + ((w - 2 * post) * (i + 0.5)) / bars, bottom: seatY, z: backZ });
    }
    if (back === "spindles") a.box(w, 0.05, post, 0, seatY + backHeight, backZ);
  }
  if (arms) {
    for (const x of [-w / 2 + 0.025, w / 2 - 0.025]) {
      a.box(0.05, 0.04, d * 0.9, x, seatY + 0.22, 0);
      a.box(0.04, 0.22, 0.04, x, seatY + 0.11, d * 0.35);
    }
  }
  return a.build();
};

const stool: Family = (r, a) => {
  const [radius, height, seat] = [r.uniform(0.15, 0.25), r.uniform(0.45, 0.8), r.uniform(0.04, 0.08)];
  const legCount = r.int(3, 4);
  const ring = r.next() < 0.5;
  const splay = r.uniform(1.0, 1.35);
  a.cylinder({ radius, height: seat, bottom: height - seat, sides: a.sides(1.5) });
  const at = radius * 0.7;
  for (let i = 0; i < legCount; i++) {
    const angle = (2 * Math.PI * i) / legCount;
    a.rod(0.022, [at * splay * Math.cos(angle), 0, at * splay * Math.sin(angle)], [at * Math.cos(angle), height - seat, at * Math.sin(angle)]);
  }
  if (ring) a.torus({ radius: at * (1 + (splay - 1) * 0.7), tube: 0.015, y: height * 0.3, flat: true });
  return a.build();
};

const bench: Family = (r, a) => {
  const [w, d, height, seat] = [r.uniform(1.0, 1.8), r.uniform(0.3, 0.45), r.uniform(0.4, 0.5), r.uniform(0.04, 0.08)];
  const panels = r.next() < 0.5;
  const backrest = r.next() < 0.4;
  a.box(w, seat, d, 0, height - seat / 2, 0);
  if (panels) for (const x of [-w / 2 + w * 0.1, w / 2 - w * 0.1]) a.box(0.05, height - seat, d * 0.9, x, (height - seat) / 2, 0);
  else legs(r, a, w, d, height - seat);
  if (backrest) {
    for (const x of [-w / 2 + 0.1, w / 2 - 0.1]) a.box(0.05, 0.4, 0.05, x, height + 0.2, -d / 2 + 0.025);
    a.box(w * 0.95, 0.12, 0.04, 0, height + 0.32, -d / 2 + 0.025);
  }
  return a.build();
};

const shelf: Family = (r, a) => {
  const [w, height, d, t] = [r.uniform(0.5, 1.2), r.uniform(0.6, 1.6), r.uniform(0.25, 0.4), r.uniform(0.03, 0.05)];
  const boards = r.int(2, 6);
  const backPanel = r.next() < 0.5;
  const plinth = r.next() < 0.4;
  const base = plinth ? 0.08 : 0;
  for (const x of [-w / 2 + t / 2, w / 2 - t / 2]) a.box(t, height, d, x, height / 2, 0);
  for (let i = 0; i < boards; i++) a.box(w - 2 * t, t, d, 0, base + t / 2 + ((height - base - t) * i) / (boards - 1), 0);
  if (backPanel) a.box(w - 2 * t, height - base, t / 2, 0, base + (height - base) / 2, -d / 2 + t / 4);
  if (plinth) a.box(w - 2 * t, base, t, 0, base / 2, d / 2 - t);
  return a.build();
};

const lamp: Family = (r, a) => {
  const [baseRadius, stemHeight, shadeRadius, shadeHeight] = [r.uniform(0.1, 0.2), r.uniform(0.3, 1.2), r.uniform(0.12, 0.3), r.uniform(0.12, 0.3)];
  const baseStyle = r.pick(["disc", "box", "dome"] as const);
  const shade = r.pick(["drum", "cone", "globe"] as const);
  const taper = r.uniform(0.4, 0.8);
  const baseHeight = 0.04;
  if (baseStyle === "disc") a.cylinder({ radius: baseRadius, height: baseHeight, bottom: 0 });
  else if (baseStyle === "box") a.box(2 * baseRadius, baseHeight, 2 * baseRadius, 0, baseHeight / 2, 0);
  else a.cylinder({ radius: baseRadius, top: baseRadius * 0.3, height: baseHeight * 2, bottom: 0 });
  a.cylinder({ radius: 0.015, height: stemHeight, bottom: baseHeight });
  const shadeBottom = baseHeight + stemHeight - shadeHeight * 0.3;
  if (shade === "drum") a.cylinder({ radius: shadeRadius, top: shadeRadius * taper, height: shadeHeight, bottom: shadeBottom, sides: a.sides(1.5) });
  else if (shade === "cone") a.cylinder({ radius: shadeRadius, top: 0, height: shadeHeight * 1.3, bottom: shadeBottom, sides: a.sides(1.5) });
  else a.ellipsoid(shadeRadius * 0.8, shadeHeight * 0.6, shadeRadius * 0.8, 0, shadeBottom + shadeHeight * 0.6, 0);
  return a.build();
};

/** A cup or mug: a hollow lathed body (open top, thick wall) and an optional ring handle. */
const mug: Family = (r, a) => {
  const [radius, height, wall] = [r.uniform(0.25, 0.4), r.uniform(0.5, 1.0), r.uniform(0.04, 0.07)];
  const flare = r.uniform(0.85, 1.25);
  const handle = r.next() < 0.75;
  const handleSize = r.uniform(0.25, 0.4) * height;
  const top = radius * flare;
  a.lathe([[0, 0], [radius, 0], [top, height], [top - wall, height], [radius - wall, wall], [0, wall]]);
  if (handle) a.torus({ radius: handleSize, tube: wall * 0.7, x: (radius + top) / 2, y: height / 2, flat: false });
  return a.build();
};

/** A vase or bottle: a closed lathed profile through random radii (foot, belly, shoulder, neck, lip). */
const vase: Family = (r, a) => {
  const height = r.uniform(0.6, 1.4);
  const belly = r.uniform(0.2, 0.4);
  const [foot, shoulder, neck, lip] = [belly * r.uniform(0.4, 0.9), belly * r.uniform(0.5, 1.1), belly * r.uniform(0.2, 0.5), r.uniform(1.0, 1.6)];
  const [bellyAt, shoulderAt, neckAt] = [r.uniform(0.2, 0.45), r.uniform(0.55, 0.7), r.uniform(0.75, 0.9)];
  a.lathe([
    [0, 0], [foot, 0], [belly, height * bellyAt], [shoulder, height * shoulderAt], [neck, height * neckAt],
    [neck * lip, height], [0, height],
  ]);
  return a.build();
};

const bed: Family = (r, a) => {
  const [w, l, frameY, legHeight] = [r.uniform(0.9, 1.8), r.uniform(1.9, 2.2), r.uniform(0.15, 0.3), r.uniform(0.05, 0.2)];
  const headboard = r.uniform(0.4, 0.9);
  const footboard = r.next() < 0.4;
  const pillows = r.int(0, 2);
  const mattress = r.uniform(0.12, 0.25);
  a.each(corners(w, l, 0.04), (x, z) => a.box(0.07, legHeight, 0.07, x, legHeight / 2, z));
  a.box(w, frameY, l, 0, legHeight + frameY / 2, 0);
  a.box(w * 0.96, mattress, l * 0.96, 0, legHeight + frameY + mattress / 2, 0);
  a.box(w, headboard + frameY + mattress, 0.06, 0, (legHeight + headboard + frameY + mattress) / 2 + legHeight / 2, -l / 2 - 0.03);
  if (footboard) a.box(w, frameY + 0.25, 0.05, 0, legHeight + (frameY + 0.25) / 2, l / 2 + 0.025);
  const top = legHeight + frameY + mattress;
  for (let i = 0; i < pillows; i++) a.box(pillows === 1 ? w * 0.7 : w * 0.42, 0.1, 0.35, pillows === 1 ? 0 : (i - 0.5) * w * 0.48, top + 0.05, -l / 2 + 0.3);
  return a.build();
};

const sofa: Family = (r, a) => {
  const [w, d, seatY, backHeight] = [r.uniform(1.2, 2.2), r.uniform(0.7, 1.0), r.uniform(0.35, 0.45), r.uniform(0.3, 0.5)];
  const cushions = r.int(1, 3);
  const armHeight = r.uniform(0.1, 0.25);
  const arm = r.uniform(0.1, 0.2);
  const base = seatY * 0.6;
  a.box(w, base, d, 0, base / 2, 0);
  const inner = w - 2 * arm;
  for (let i = 0; i < cushions; i++) a.box(inner / cushions - 0.02, seatY - base, d - 0.25, -inner / 2 + (inner * (i + 0.5)) / cushions, (base + seatY) / 2, 0.1);
  a.box(w, backHeight + seatY - base, 0.25, 0, base + (backHeight + seatY - base) / 2, -d / 2 + 0.125);
  for (const x of [-w / 2 + arm / 2, w / 2 - arm / 2]) a.box(arm, seatY - base + armHeight, d, x, base + (seatY - base + armHeight) / 2, 0);
  return a.build();
};

const cabinet: Family = (r, a) => {
  const [w, height, d] = [r.uniform(0.4, 1.2), r.uniform(0.5, 1.8), r.uniform(0.35, 0.6)];
  const doors = r.int(1, 3);
  const drawers = r.int(0, 3);
  const feet = r.next() < 0.5;
  const foot = feet ? 0.08 : 0;
  if (feet) a.each(corners(w, d, 0.04), (x, z) => a.cylinder({ radius: 0.025, height: foot, x, bottom: 0, z }));
  a.box(w, height - foot, d, 0, foot + (height - foot) / 2, 0);
  a.box(w + 0.04, 0.03, d + 0.03, 0, height + 0.015, 0);
  // Handles: one per door at mid height, one per drawer in the top fifth.
  for (let i = 0; i < doors; i++) a.box(0.02, 0.12, 0.03, -w / 2 + (w * (i + 0.5)) / doors, foot + (height - foot) * 0.45, d / 2 + 0.015);
  for (let i = 0; i < drawers; i++) a.box(0.14, 0.025, 0.03, 0, height - 0.06 - i * 0.08, d / 2 + 0.015);
  return a.build();
};

export const SHAPE_FAMILIES = { table, chair, stool, bench, shelf, lamp, mug, vase, bed, sofa, cabinet } satisfies Record<string, Family>;
export type ShapeFamily = keyof typeof SHAPE_FAMILIES;
