/**
 * One `iflame` subcommand: its flags (a zod schema), its positional arguments, its help, and
 * what it does. `runCommand` is the single path from argv to exit code, used by the `iflame`
 * dispatcher and by the thin root entry points (train.ts, sample.ts): bad usage is one line on
 * stderr and exit code 2, a failure is its message (its stack with IFLAME_DEBUG=1) and exit code 1.
 */
import type { z } from "zod";
import { type FlagSchema, UsageError, formatFlagHelp, parseFlags } from "./flags.ts";

export interface Command<S extends FlagSchema = FlagSchema> {
  name: string;
  /** What the command does, under the usage line of its --help. */
  summary: string;
  /** The positional part of the usage line, e.g. "<mesh file>". */
  args?: string;
  /** How many positional arguments: exactly n, or [min, max]. */
  positionals?: number | [number, number];
  flags: S;
  /** Extra paragraphs after the flag list. */
  notes?: string;
  /** Resolves to the exit code (0 when omitted). */
  run(flags: z.infer<S>, positionals: string[]): Promise<number | void>;
}

/** Keeps a command's flag types tied to its schema. */
export const defineCommand = <S extends FlagSchema>(command: Command<S>): Command<S> => command;

function commandHelp(command: Command): string {
  const usage = `usage: iflame ${command.name}${command.args ? ` ${command.args}` : ""} [flags]`;
  const flags = formatFlagHelp(command.flags);
  return [usage, "", command.summary, ...(flags ? ["", "flags:", flags] : []), ...(command.notes ? ["", command.notes] : [])].join("\n");
}

export async function runCommand(command: Command, argv: readonly string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(commandHelp(command));
    return 0;
  }
  let parsed;
  try {
    parsed = parseFlags(command.flags, argv, command.positionals ?? 0);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`iflame ${command.name}: ${e.message} (see iflame ${command.name} --help)`);
    return 2;
  }
  try {
    return (await command.run(parsed.flags, parsed.positionals)) ?? 0;
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`iflame ${command.name}: ${e.message}`);
      return 2;
    }
    // Errors carry their own context (the file, the flag, what to do); the stack is for debugging.
    console.error(`iflame ${command.name}: ${e instanceof Error ? e.message : String(e)}`);
    if (process.env.IFLAME_DEBUG && e instanceof Error) console.error(e.stack);
    return 1;
  }
}
