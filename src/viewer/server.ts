/**
 * The viewer's local web server (loopback only). The page is an HTML import: Bun bundles its
 * script, three.js included, from node_modules on first request, and `bun build --compile`
 * bundles it into the binary, so the page loads nothing from outside this server. The data
 * routes answer only requests whose Host is this server's own loopback address: a page on
 * another site whose name was rebound to 127.0.0.1 (DNS rebinding) sends its own name and is refused.
 */
import { encodeMeshPayload, type ViewerState } from "./protocol.ts";
import { ViewedFolder } from "./folder.ts";
import page from "./page/index.html";

export interface ViewerOptions {
  /** The folder to show: any folder of meshes, or a training run's folder. */
  dir: string;
  /** 0 picks any free port. */
  port: number;
  /** The most meshes on the page. */
  limit: number;
  /** How often the page polls, in milliseconds. */
  pollMs: number;
}

export const VIEWER_HOST = "127.0.0.1";

type Handler = (req: Request) => Response | Promise<Response>;

export function startViewer(opts: ViewerOptions): Bun.Server<undefined> {
  const folder = new ViewedFolder(opts.dir, opts.limit);
  const ownHost = (req: Request) => {
    const host = req.headers.get("host");
    return host === `${VIEWER_HOST}:${server.port}` || host === `localhost:${server.port}`;
  };
  const local = (handler: Handler): Handler => (req) =>
    ownHost(req) ? handler(req) : new Response(`host '${req.headers.get("host") ?? ""}' is not this viewer (use http://${VIEWER_HOST}:${server.port}/)`, { status: 421 });
  const server: Bun.Server<undefined> = Bun.serve({
    hostname: VIEWER_HOST,
    port: opts.port,
    // Production mode: bundle the page once, with no hot-reload client talking back.
    development: false,
    routes: {
      "/": page,
      "/api/state": local(async () => {
        const { meshes, total } = await folder.meshes();
        const state: ViewerState = { title: opts.dir, run: await folder.run(), eval: await folder.evaluation(), meshes, totalMeshes: total, pollMs: opts.pollMs };
        return Response.json(state, { headers: { "cache-control": "no-store" } });
      }),
      "/api/metrics": local(async (req) => {
        const from = Number(new URL(req.url).searchParams.get("from") ?? 0);
        if (!Number.isSafeInteger(from) || from < 0) return new Response("from: expected a byte offset", { status: 400 });
        return Response.json(await folder.metrics(from), { headers: { "cache-control": "no-store" } });
      }),
      "/api/mesh": local(async (req) => {
        const path = new URL(req.url).searchParams.get("path") ?? "";
        try {
          const mesh = await folder.readListedMesh(path);
          if (!mesh) return new Response(`${path}: not a mesh in ${opts.dir}`, { status: 404 });
          return new Response(encodeMeshPayload(mesh), { headers: { "content-type": "application/octet-stream", "cache-control": "no-store" } });
        } catch (e) {
          return new Response((e as Error).message, { status: 422 });
        }
      }),
    },
    fetch: local(() => new Response("not found", { status: 404 })),
  });
  return server;
}
