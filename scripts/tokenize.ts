/**
 * Tokenizes one mesh file and prints what the pipeline did to it; the same as `iflame tokenize`.
 *   bun scripts/tokenize.ts <mesh.obj|ply|stl|glb|gltf> [--tokens out.json] [--out mesh.obj] [--augment --seed N]
 */
import { runCommand } from "../src/cli/command.ts";
import { tokenizeCommand } from "../src/cli/commands/tokenize.ts";

process.exit(await runCommand(tokenizeCommand, process.argv.slice(2)));
