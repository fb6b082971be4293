#!/usr/bin/env bun
/** The `iflame` command: `bun iflame.ts <command> [flags]`, or the single binary (scripts/build.ts). */
import { runCli } from "./src/cli/main.ts";

process.exit(await runCli(process.argv.slice(2)));
