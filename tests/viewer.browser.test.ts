/**
 * The viewer in a real browser: headless Chromium (Debian's package, driven by playwright-core)
 * loads it on a folder of meshes and on a training run, and every test fails on a console error,
 * a page error, a failed request or any request that leaves the viewer's own server.
 * With IFLAME_SCREENSHOT=<folder>, it also saves the viewer on that folder to docs/viewer.png.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync } from "node:fs";
import { appendFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, type Locator, type Page, chromium } from "playwright-core";
import { proceduralMesh } from "../src/data/procedural.ts";
import { evaluateFolders } from "../src/eval/evaluate.ts";
import { writeMesh } from "../src/mesh/io.ts";
import { faceCount, vertexCount } from "../src/mesh/mesh.ts";
import { startViewer } from "../src/viewer/server.ts";

// Headless Chromium starts and draws with SwiftShader: about 3× its slowest test on an idle 2-core machine, at least 10 s (bunfig.toml says why).
setDefaultTimeout(120_000);

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.log(`viewer browser tests skipped: ${CHROMIUM} is absent (apt-get install -y chromium; CI installs it)`);

/** Metrics rows as the trainer writes them. */
const trainRow = (step: number) => ({ kind: "train", step, epoch: 0, lr: 1e-3, loss: 4 / (1 + 0.1 * step), acc: 0.9 - 0.8 / (1 + 0.05 * step), gradNorm: 1, tokensPerSecond: 1000 });
const valRow = (step: number) => ({ kind: "val", step, loss: 4.2 / (1 + 0.1 * step), acc: 0.85 - 0.8 / (1 + 0.05 * step), perplexity: 2 });
const jsonl = (rows: object[]) => rows.map((r) => `${JSON.stringify(r)}\n`).join("");

describe.skipIf(!hasChromium)("viewer in headless Chromium", () => {
  let dir: string;
  let browser: Browser;
  let page: Page;
  /** Everything that went wrong on the page during one test. */
  let problems: string[];
  const servers: ReturnType<typeof startViewer>[] = [];
  const meshesDir = () => join(dir, "meshes");
  const runDir = () => join(dir, "run");
  const expected = new Map<string, { faces: number; vertices: number }>();

  async function writeFixtureMesh(path: string, index: number): Promise<void> {
    const { mesh } = proceduralMesh(11, index, 200);
    await writeMesh(path, mesh);
    expected.set(path, { faces: faceCount(mesh), vertices: vertexCount(mesh) });
  }

  function serve(folder: string): string {
    const server = startViewer({ dir: folder, port: 0, limit: 48, pollMs: 400 });
    servers.push(server);
    return server.url.href;
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "iflame-viewer-"));
    await mkdir(meshesDir());
    await writeFixtureMesh(join(meshesDir(), "a.obj"), 0);
    await writeFixtureMesh(join(meshesDir(), "b.ply"), 1);
    await writeFixtureMesh(join(meshesDir(), "c.glb"), 2);
    await mkdir(join(runDir(), "checkpoints", "step-00000020"), { recursive: true });
    await mkdir(join(runDir(), "samples"));
    await writeFile(join(runDir(), "metrics.jsonl"), jsonl([...Array.from({ length: 20 }, (_, i) => trainRow(i + 1)), valRow(10), valRow(20)]));
    await writeFile(join(runDir(), "latest.json"), JSON.stringify({ checkpoint: "checkpoints/step-00000020", step: 20 }));
    await writeFile(join(runDir(), "checkpoints", "step-00000020", "state.json"), JSON.stringify({ step: 20, totalSteps: 40, config: { name: "tiny" } }));
    await writeFixtureMesh(join(runDir(), "samples", "sample-0.obj"), 3);
    // The run's samples were evaluated (generate --eval-against): the page shows the tables.
    const report = await evaluateFolders({ generated: join(runDir(), "samples"), reference: meshesDir(), points: 16, seed: 0 });
    await writeFile(join(runDir(), "samples", "eval.json"), JSON.stringify(report));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });

  afterAll(async () => {
    await browser?.close();
    for (const s of servers) s.stop(true);
    await rm(dir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    problems = [];
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`console error: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()} (${r.failure()?.errorText})`));
    page.on("request", (r) => {
      const url = new URL(r.url());
      if (url.protocol !== "data:" && url.hostname !== "127.0.0.1") problems.push(`request outside the viewer: ${r.url()}`);
    });
  });

  afterEach(async () => {
    await page.close();
    expect(problems).toEqual([]);
  });

  /** Waits until every card's mesh is on screen. */
  async function loadedCards(count: number): Promise<Locator> {
    await page.waitForFunction((n) => document.querySelectorAll('.card[data-loaded="true"]').length === n, count, { timeout: 60_000 });
    // A frame is drawn on the next animation frame after the last mesh arrives.
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
    return page.locator(".card");
  }

  /** Distinct colours (quantised), the spread of brightness and the near-black pixels in a screenshot of `target`. */
  async function pixelStats(target: Locator): Promise<{ colors: number; spread: number; dark: number }> {
    const png = await target.screenshot();
    // The browser decodes its own screenshot, so the test needs no PNG decoder.
    return page.evaluate(async (bytes) => {
      const bitmap = await createImageBitmap(new Blob([new Uint8Array(bytes)], { type: "image/png" }));
      const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
      const ctx = canvas.getContext("2d")!;
      ctx.drawImage(bitmap, 0, 0);
      const data = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
      const colors = new Set<number>();
      let min = 255, max = 0, dark = 0;
      for (let i = 0; i < data.length; i += 4) {
        colors.add(((data[i] >> 3) << 10) | ((data[i + 1] >> 3) << 5) | (data[i + 2] >> 3));
        const y = (data[i] + data[i + 1] + data[i + 2]) / 3;
        min = Math.min(min, y);
        max = Math.max(max, y);
        if (y < 64) dark++;
      }
      return { colors: colors.size, spread: max - min, dark };
    }, [...png]);
  }

  test("a folder of meshes: every mesh drawn, with its face and vertex counts", async () => {
    await page.goto(serve(meshesDir()));
    const cards = await loadedCards(3);
    expect(await cards.evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.path))).toEqual(["a.obj", "b.ply", "c.glb"]);
    expect(await page.locator("#eval").isVisible()).toBe(false); // no eval.json here
    for (const [i, name] of ["a.obj", "b.ply", "c.glb"].entries()) {
      const want = expected.get(join(meshesDir(), name))!;
      const card = cards.nth(i);
      expect(await card.getAttribute("data-faces")).toBe(String(want.faces));
      expect(await card.getAttribute("data-vertices")).toBe(String(want.vertices));
      expect(await card.locator(".counts").textContent()).toBe(`${want.faces} faces · ${want.vertices} vertices`);
      const stats = await pixelStats(card.locator(".view"));
      expect(stats.spread).toBeGreaterThan(40); // shaded faces against the background, not a blank view
      expect(stats.colors).toBeGreaterThan(4);
    }
    // The wireframe toggle draws dark edges over the faces.
    const view = cards.nth(0).locator(".view");
    const before = await pixelStats(view);
    await page.locator("#wireframe").check();
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
    expect((await pixelStats(view)).dark).toBeGreaterThan(before.dark + 100);
    // Orbiting redraws the view from another angle.
    const unturned = await view.screenshot();
    const box = (await view.boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2 + 80, box.y + box.height / 2 + 30, { steps: 5 });
    await page.mouse.up();
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
    expect(Buffer.compare(await view.screenshot(), unturned)).not.toBe(0);
  });

  test("a training run: loss and accuracy curves and samples, refreshed while it trains", async () => {
    await page.goto(serve(runDir()));
    await loadedCards(1);
    expect(await page.locator("#run").isVisible()).toBe(true);
    expect(await page.locator("#status").textContent()).toContain("step 20 / 40");
    expect(await page.locator("#loss-chart path").count()).toBe(1);
    expect(await page.locator("#loss-chart circle").count()).toBe(2);
    expect(await page.locator("#acc-chart path").count()).toBe(1);
    const evalTables = await page.locator("#eval").textContent();
    for (const row of ["1 generated against 3 reference meshes", "MMD-CD", "COV-CD", "1-NNA-CD", "JSD", "watertight", "duplicate faces"]) expect(evalTables).toContain(row);

    // Training goes on: more rows, a new checkpoint, a new sample; the page catches up by polling.
    await appendFile(join(runDir(), "metrics.jsonl"), jsonl([...Array.from({ length: 10 }, (_, i) => trainRow(21 + i)), valRow(30)]));
    await Bun.sleep(20); // a different mtime, so the newer sample sorts first
    await writeFixtureMesh(join(runDir(), "samples", "sample-1.ply"), 4);
    await page.waitForFunction(() => document.querySelector("#status")?.textContent?.includes("step 30 / 40"), undefined, { timeout: 30_000 });
    const cards = await loadedCards(2);
    expect(await cards.first().getAttribute("data-path")).toBe("samples/sample-1.ply");
    expect(await page.locator("#loss-chart circle").count()).toBe(3);
    expect((await pixelStats(cards.first().locator(".view"))).spread).toBeGreaterThan(40);
  });

  const screenshotFolder = process.env.IFLAME_SCREENSHOT;
  test.skipIf(!screenshotFolder)("screenshot for the README (IFLAME_SCREENSHOT=<folder>)", async () => {
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(serve(screenshotFolder!));
    const count = await page.evaluate(async () => ((await (await fetch("api/state")).json()) as { meshes: unknown[] }).meshes.length);
    await loadedCards(count);
    await page.screenshot({ path: join(import.meta.dir, "..", "docs", "viewer.png") });
  });
});
