/**
 * Command-line flags validated by a zod object schema: `--name value`, `--name=value`, `--flag`,
 * `--no-flag`, kebab-case on the command line, camelCase in the schema; after a bare `--`, all
 * arguments are positional. Whatever is wrong (an unknown flag, a
 * missing value, a bad value, a wrong number of positional arguments) becomes one UsageError
 * line, which the CLI prints and exits with code 2. Help text comes from the same schema
 * (`.describe()`, defaults, enum options), so it cannot drift from what is accepted.
 */
import { z } from "zod";

export class UsageError extends Error {}

export type FlagSchema = z.ZodObject<z.ZodRawShape>;

interface FieldInfo {
  /** The innermost type: "boolean", "number", "string", "enum", ... */
  type: string;
  options?: readonly string[];
  defaultValue?: unknown;
  description?: string;
}

/** Looks through .default() / .optional() wrappers to the type a flag holds. */
function fieldInfo(field: z.ZodType): FieldInfo {
  const info: FieldInfo = { type: "", description: field.description };
  let t = field as unknown as { _zod: { def: { type: string; innerType?: unknown; defaultValue?: unknown } }; options?: string[] };
  while (t._zod.def.innerType) {
    if (t._zod.def.type === "default") info.defaultValue = t._zod.def.defaultValue;
    t = t._zod.def.innerType as typeof t;
  }
  info.type = t._zod.def.type;
  if (t._zod.def.type === "enum") info.options = t.options;
  return info;
}

// A capital after a lower-case letter or digit starts a word ("stepsPerSubmit" → "steps-per-submit");
// a name that is one capital ("B") stays as it is, as toCamel leaves it.
const toKebab = (key: string) => key.replace(/(?<=[a-z0-9])[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const toCamel = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

export interface Parsed<S extends FlagSchema> {
  flags: z.infer<S>;
  positionals: string[];
}

/**
 * Parses `argv` against `schema`. `positionals` is how many plain arguments the command takes
 * (exactly n, or [min, max]); flags and positionals may be mixed.
 */
export function parseFlags<S extends FlagSchema>(schema: S, argv: readonly string[], positionals: number | [number, number] = 0): Parsed<S> {
  const shape = schema.shape as Record<string, z.ZodType>;
  const raw: Record<string, unknown> = {};
  const plain: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      // Everything after a bare -- is positional, flags included (for a command to pass on).
      plain.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("--")) {
      plain.push(arg);
      continue;
    }
    const [name, inlineValue] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    const key = toCamel(name);
    const negated = key.startsWith("no") && key.length > 2 ? key[2].toLowerCase() + key.slice(3) : null;
    if (negated !== null && !(key in shape) && shape[negated] && fieldInfo(shape[negated]).type === "boolean") {
      if (negated in raw) throw new UsageError(`--${name} and --${toKebab(negated)} are given together; give one`);
      raw[negated] = false;
      continue;
    }
    if (!(key in shape)) throw new UsageError(`unknown flag --${name}`);
    if (key in raw) throw new UsageError(`--${name} is given twice; give it once`);
    if (fieldInfo(shape[key]).type === "boolean" && inlineValue === undefined) {
      raw[key] = true;
      continue;
    }
    const value = inlineValue ?? argv[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    raw[key] = value;
  }
  const [min, max] = typeof positionals === "number" ? [positionals, positionals] : positionals;
  if (plain.length < min || plain.length > max) {
    const wanted = min === max ? `${min}` : `${min} to ${max}`;
    throw new UsageError(
      plain.length > max && max === 0 ? `unexpected argument '${plain[0]}' (flags look like --name value)` : `expected ${wanted} argument${max === 1 ? "" : "s"}, got ${plain.length}`,
    );
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = String(issue.path[0] ?? "");
    const where = key ? `--${toKebab(key)}` : "flags";
    // zod says "expected number, received NaN" for `--batch x`: name the value instead.
    const message = issue.code === "invalid_type" && issue.expected === "number" ? `expected a number, got '${String(raw[key])}'` : issue.message;
    throw new UsageError(`${where}: ${message}`);
  }
  return { flags: parsed.data as z.infer<S>, positionals: plain };
}

/** One line per flag: name, value kind or choices, default, description. */
export function formatFlagHelp(schema: FlagSchema): string {
  const rows = Object.entries(schema.shape as Record<string, z.ZodType>).map(([key, field]) => {
    const info = fieldInfo(field);
    const flag = `--${toKebab(key)}`;
    const value = info.type === "boolean" ? "" : info.options ? ` ${info.options.join("|")}` : ` <${info.type === "number" ? "n" : "value"}>`;
    // A boolean that is on by default is listed as its --no- form; its description says what it
    // does when on, so the help says that --no- turns that off.
    const onByDefault = info.type === "boolean" && info.defaultValue === true;
    const left = onByDefault ? `--no-${toKebab(key)}` : `${flag}${value}`;
    const fallback = info.defaultValue !== undefined && info.type !== "boolean" ? `(default ${String(info.defaultValue)})` : "";
    const description = onByDefault ? `turn off: ${info.description ?? key} (on by default)` : info.description;
    return [left, [description, fallback].filter(Boolean).join(" ")] as const;
  });
  const width = Math.max(0, ...rows.map(([left]) => left.length)) + 2;
  return rows.map(([left, right]) => `  ${left.padEnd(width)}${right}`.trimEnd()).join("\n");
}

/** A script's flags: on a usage error, prints it as `<script>: <message>` and exits with code 2. */
export function parseScriptFlags<S extends FlagSchema>(script: string, schema: S, argv: readonly string[]): z.infer<S> {
  try {
    return parseFlags(schema, argv).flags;
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`${script}: ${e.message}`);
    process.exit(2);
  }
}
