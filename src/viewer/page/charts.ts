/**
 * Training curves as plain SVG: each chart is a few polylines over step, with the y range and
 * step range written at the corners. Long runs are thinned to about one point per pixel.
 */
import type { MetricRow } from "../protocol.ts";

export interface Series {
  name: string;
  color: string;
  points: [step: number, value: number][];
  /** Draw markers instead of a line (validation runs are sparse). */
  dots?: boolean;
}

const SVG = "http://www.w3.org/2000/svg";
const HEIGHT = 180;
const PAD = { left: 44, right: 8, top: 6, bottom: 16 };

function svgElement<K extends keyof SVGElementTagNameMap>(name: K, attributes: Record<string, string | number>): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) el.setAttribute(key, String(value));
  return el;
}

function thin(points: Series["points"], most: number): Series["points"] {
  if (points.length <= most) return points;
  const stride = points.length / most;
  return Array.from({ length: most }, (_, i) => points[Math.floor(i * stride)]).concat([points.at(-1)!]);
}

/** Replaces the contents of `box` with a titled chart of `series`. */
export function drawChart(box: HTMLElement, title: string, series: Series[], format: (v: number) => string): void {
  const all = series.flatMap((s) => s.points);
  const heading = document.createElement("h2");
  heading.textContent = title;
  const legend = document.createElement("span");
  legend.className = "legend";
  for (const s of series) {
    const item = document.createElement("span");
    const swatch = document.createElement("i");
    swatch.style.background = s.color;
    const last = s.points.at(-1);
    item.append(swatch, `${s.name}${last ? ` ${format(last[1])}` : ""}`);
    legend.append(item);
  }
  heading.append(legend);
  // Drawn at the box's pixel width (not stretched), so text and strokes keep their shape.
  const width = Math.max(200, Math.floor(box.clientWidth - 20));
  const svg = svgElement("svg", { viewBox: `0 0 ${width} ${HEIGHT}`, width: width, height: HEIGHT });
  box.replaceChildren(heading, svg);
  if (all.length === 0) return;

  const [x0, x1] = [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
  let [y0, y1] = [Math.min(...all.map((p) => p[1])), Math.max(...all.map((p) => p[1]))];
  if (y1 - y0 < 1e-9) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  const x = (step: number) => PAD.left + ((step - x0) / Math.max(1, x1 - x0)) * (width - PAD.left - PAD.right);
  const y = (v: number) => PAD.top + (1 - (v - y0) / (y1 - y0)) * (HEIGHT - PAD.top - PAD.bottom);

  svg.append(
    svgElement("rect", { x: PAD.left, y: PAD.top, width: width - PAD.left - PAD.right, height: HEIGHT - PAD.top - PAD.bottom, fill: "none", stroke: "#dadbd6" }),
    label(PAD.left - 4, PAD.top + 8, format(y1), "end"),
    label(PAD.left - 4, HEIGHT - PAD.bottom, format(y0), "end"),
    label(PAD.left, HEIGHT - 3, `step ${x0}`, "start"),
    label(width - PAD.right, HEIGHT - 3, `${x1}`, "end"),
  );
  for (const s of series) {
    const points = thin(s.points, width);
    if (s.dots) {
      for (const [step, v] of points) svg.append(svgElement("circle", { cx: x(step), cy: y(v), r: 2.5, fill: s.color }));
    } else {
      const path = points.map(([step, v], i) => `${i ? "L" : "M"}${x(step).toFixed(1)} ${y(v).toFixed(1)}`).join("");
      svg.append(svgElement("path", { d: path, fill: "none", stroke: s.color, "stroke-width": 1.5 }));
    }
  }
}

function label(x: number, y: number, text: string, anchor: "start" | "end"): SVGTextElement {
  const t = svgElement("text", { x, y, "text-anchor": anchor });
  t.textContent = text;
  return t;
}

/** The loss and accuracy charts of a run from its metrics rows. */
export function drawRunCharts(lossBox: HTMLElement, accBox: HTMLElement, rows: MetricRow[]): void {
  const train = rows.filter((r) => r.kind === "train");
  const val = rows.filter((r) => r.kind === "val");
  const percent = (v: number) => `${(100 * v).toFixed(1)}%`;
  drawChart(lossBox, "loss", [
    { name: "train", color: "#d9541e", points: train.map((r) => [r.step, r.loss]) },
    { name: "val", color: "#2f6fb3", points: val.map((r) => [r.step, r.loss]), dots: true },
  ], (v) => v.toFixed(3));
  drawChart(accBox, "token accuracy", [
    { name: "train", color: "#d9541e", points: train.map((r) => [r.step, r.acc]) },
    { name: "val", color: "#2f6fb3", points: val.map((r) => [r.step, r.acc]), dots: true },
  ], percent);
}
