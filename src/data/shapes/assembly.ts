/**
 * Closed three.js primitives placed in one object (y up, sizes in metres-ish units): what the
 * furniture families of shapes/families.ts are built from. Round parts take their number of
 * sides from the assembly's detail level, so one random draw of an object can be rebuilt
 * coarser until it fits a face budget; nothing here draws random numbers.
 */
import {
  type BufferGeometry, BoxGeometry, CylinderGeometry, LatheGeometry, SphereGeometry, TorusGeometry, Vector2,
} from "three";
import { mergeParts } from "../procedural.ts";

/** Detail levels 0 (coarsest) .. DETAIL_LEVELS - 1. */
export const DETAIL_LEVELS = 5;
/** Sides of cylinders, cones and lathed parts, per detail level. */
const ROUND_SIDES = [4, 6, 8, 12, 16];
/** Sides around a torus tube, per detail level. */
const TUBE_SIDES = [3, 4, 4, 6, 8];

export class Assembly {
  private readonly parts: BufferGeometry[] = [];

  constructor(readonly detail: number) {
    if (!(Number.isInteger(detail) && detail >= 0 && detail < DETAIL_LEVELS)) throw new Error(`detail must be an integer in 0..${DETAIL_LEVELS - 1}, got ${detail}`);
  }

  /** Sides of a round part at this detail; `scale` > 1 for large round parts (a table top). */
  sides(scale = 1): number {
    return Math.max(3, Math.round(ROUND_SIDES[this.detail] * scale));
  }

  /** A box of size (w, h, d) centred at (x, y, z). */
  box(w: number, h: number, d: number, x: number, y: number, z: number): this {
    return this.add(new BoxGeometry(w, h, d).translate(x, y, z));
  }

  /** A vertical cylinder (or frustum, or cone when `top` is 0) standing on y = `bottom` at (x, z). */
  cylinder(opts: { radius: number; top?: number; height: number; x?: number; bottom: number; z?: number; sides?: number }): this {
    const top = opts.top ?? opts.radius;
    const geometry = new CylinderGeometry(top, opts.radius, opts.height, opts.sides ?? this.sides());
    return this.add(geometry.translate(opts.x ?? 0, opts.bottom + opts.height / 2, opts.z ?? 0));
  }

  /** A rod from point a to point b (a leg set at an angle, a lamp arm). */
  rod(radius: number, a: readonly [number, number, number], b: readonly [number, number, number]): this {
    const [dx, dy, dz] = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
    const length = Math.hypot(dx, dy, dz);
    const geometry = new CylinderGeometry(radius, radius, length, this.sides(0.75));
    // Tilt the y axis onto (dx, dy, dz): about z by the angle from y in the xy plane, then about y.
    geometry.rotateZ(-Math.atan2(Math.hypot(dx, dz), dy)).rotateY(Math.atan2(-dz, dx));
    return this.add(geometry.translate((a[0] + b[0]) / 2, (a[1] + b[1]) / 2, (a[2] + b[2]) / 2));
  }

  /**
   * A solid of revolution about the vertical axis through (x, z): `profile` lists (radius, y)
   * points from the axis at the bottom to the axis at the top, so the surface is closed.
   */
  lathe(profile: readonly (readonly [number, number])[], x = 0, z = 0, sidesScale = 1.5): this {
    const points = profile.map(([radius, y]) => new Vector2(radius, y));
    return this.add(new LatheGeometry(points, this.sides(sidesScale)).translate(x, 0, z));
  }

  /** An ellipsoid of radii (rx, ry, rz) centred at (x, y, z). */
  ellipsoid(rx: number, ry: number, rz: number, x: number, y: number, z: number): this {
    const sides = this.sides();
    return this.add(new SphereGeometry(1, sides, Math.max(3, sides >> 1)).scale(rx, ry, rz).translate(x, y, z));
  }

  /** A ring of tube radius `tube` around a vertical axis (`flat`) or in the xy plane, centred at (x, y, z). */
  torus(opts: { radius: number; tube: number; x?: number; y: number; z?: number; flat: boolean }): this {
    const geometry = new TorusGeometry(opts.radius, opts.tube, TUBE_SIDES[this.detail], this.sides(1.5));
    if (opts.flat) geometry.rotateX(Math.PI / 2);
    return this.add(geometry.translate(opts.x ?? 0, opts.y, opts.z ?? 0));
  }

  /** The same part at each (x, z): legs at the corners. */
  each(places: readonly (readonly [number, number])[], part: (x: number, z: number) => void): this {
    for (const [x, z] of places) part(x, z);
    return this;
  }

  build(): BufferGeometry {
    return mergeParts(this.parts);
  }

  private add(geometry: BufferGeometry): this {
    this.parts.push(geometry);
    return this;
  }
}

/** The four corners of a w × d rectangle, inset by `inset` from each edge. */
export const corners = (w: number, d: number, inset: number): [number, number][] => {
  const [x, z] = [w / 2 - inset, d / 2 - inset];
  return [[-x, -z], [x, -z], [-x, z], [x, z]];
};
