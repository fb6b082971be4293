/** `iflame view`: serves the viewer for a folder of meshes or a training run on loopback. */
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { startViewer } from "../../viewer/server.ts";
import { defineCommand } from "../command.ts";
import { UsageError } from "../flags.ts";

const ViewFlags = z
  .object({
    port: z.coerce.number().int().min(0).max(65535).default(0).describe("port on 127.0.0.1 (0: any free port)"),
    limit: z.coerce.number().int().positive().default(48).describe("most meshes shown (a run shows its newest)"),
    poll: z.coerce.number().int().min(250).default(3000).describe("how often the page refreshes, in ms"),
  })
  .strict();

/** A folder as given, or a run's name under runs/. */
function resolveFolder(arg: string): string {
  for (const candidate of [arg, join("runs", arg)]) {
    if (existsSync(candidate) && statSync(candidate).isDirectory()) return candidate;
  }
  throw new UsageError(`${arg}: no such folder (nor runs/${arg})`);
}

export const viewCommand = defineCommand({
  name: "view",
  summary: "Open a local viewer: a gallery of the meshes in a folder, or a training run's live loss and accuracy curves and latest samples.",
  args: "<folder | run>",
  positionals: 1,
  flags: ViewFlags,
  notes: "Serves only on 127.0.0.1 and loads nothing from the network. Stop it with Ctrl-C.",
  async run(flags, [arg]) {
    const dir = resolveFolder(arg);
    const server = startViewer({ dir, port: flags.port, limit: flags.limit, pollMs: flags.poll });
    console.log(`iflame viewer for ${dir}: ${server.url.href}`);
    // Serve until the process is stopped.
    await new Promise<never>(() => {});
  },
});
