/** The folder's eval report (eval.json) as tables: the metrics, the validity figures, the face counts. */
import type { EvalReport } from "../../eval/report.ts";
import { faceHistogramRows, metricRows, validityRows } from "../../eval/table.ts";

function panel(title: string, header: string[] | null, rows: string[][]): HTMLElement {
  const div = document.createElement("div");
  div.className = "panel";
  const h2 = document.createElement("h2");
  h2.textContent = title;
  const table = document.createElement("table");
  for (const [i, row] of [...(header ? [header] : []), ...rows].entries()) {
    const tr = table.insertRow();
    for (const cell of row) {
      const td = document.createElement(header && i === 0 ? "th" : "td");
      td.textContent = cell;
      tr.append(td);
    }
  }
  div.append(h2, table);
  return div;
}

export function drawEvalTables(section: HTMLElement, report: EvalReport): void {
  const { generated, reference } = report.counts;
  section.replaceChildren(
    panel(`eval: ${generated} generated against ${reference} reference meshes, ${report.settings.points} points each`, null, metricRows(report)),
    panel("validity", ["", "generated", "reference"], validityRows(report)),
    panel("triangles per mesh", ["", "generated", "reference"], faceHistogramRows(report)),
  );
}
