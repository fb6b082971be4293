/**
 * The viewer page: asks the server for the folder's state and the run's new metrics rows every
 * few seconds, and keeps the gallery and the charts in step with them.
 */
import type { MetricRow, MetricsChunk, ViewerState } from "../protocol.ts";
import { drawRunCharts } from "./charts.ts";
import { drawEvalTables } from "./eval-tables.ts";
import { Gallery } from "./gallery.ts";

const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

const gallery = new Gallery(byId("gallery"), byId<HTMLCanvasElement>("scene"));
const wireframe = byId<HTMLInputElement>("wireframe");
const flat = byId<HTMLInputElement>("flat");
const applyStyle = () => gallery.setStyle({ wireframe: wireframe.checked, flat: flat.checked });
wireframe.addEventListener("change", applyStyle);
flat.addEventListener("change", applyStyle);

const rows: MetricRow[] = [];
let metricsOffset = 0;

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

function describeRun(state: ViewerState): string {
  const meshes = `${state.totalMeshes} mesh${state.totalMeshes === 1 ? "" : "es"}${state.totalMeshes > state.meshes.length ? ` (newest ${state.meshes.length} shown)` : ""}`;
  if (!state.run) return meshes;
  const { step, totalSteps, config } = state.run;
  const last = rows.findLast((r) => r.kind === "train");
  const progress = last ? `step ${last.step}${totalSteps ? ` / ${totalSteps}` : ""}` : step !== null ? `checkpoint at step ${step}` : "no steps yet";
  return [config, progress, meshes].filter(Boolean).join(" · ");
}

async function refresh(): Promise<number> {
  const state = await getJson<ViewerState>("api/state");
  byId("title").textContent = state.title;
  document.title = `iflame · ${state.title}`;
  if (state.run) {
    const chunk = await getJson<MetricsChunk>(`api/metrics?from=${metricsOffset}`);
    if (chunk.reset) rows.length = 0;
    rows.push(...chunk.rows);
    metricsOffset = chunk.next;
    byId("run").hidden = false;
    if (chunk.rows.length > 0 || chunk.reset || !byId("loss-chart").firstChild) drawRunCharts(byId("loss-chart"), byId("acc-chart"), rows);
  }
  byId("eval").hidden = state.eval === null;
  if (state.eval) drawEvalTables(byId("eval"), state.eval);
  byId("status").textContent = describeRun(state);
  byId("empty").hidden = state.meshes.length > 0;
  await gallery.update(state.meshes);
  document.body.dataset.ready = "true";
  return state.pollMs;
}

async function poll(): Promise<void> {
  let next = 3000;
  try {
    next = await refresh();
  } catch (e) {
    // The server stops with the CLI; say so on the page and keep trying.
    byId("status").textContent = `disconnected (${(e as Error).message})`;
  }
  setTimeout(poll, next);
}

void poll();
