/**
 * The group-0 bindings one entry point of a WGSL module uses: the module-scope resource
 * variables its body names, directly or through the functions and constants it names. Names are
 * resolved with WGSL's scoping (function parameters, `let`/`var`/`const` in blocks and `for`
 * headers, each visible from the end of its declaration), so a local variable named like a
 * binding does not count, nor does a struct member (`p.x`). This lets one file hold a kernel's
 * forward and backward entry points, each bound to only its own tensors.
 */
import type { BindingType } from "../../ffi/webgpu.ts";

export interface Binding {
  binding: number;
  type: BindingType;
}

type Token = { text: string; line: number };

function tokenize(code: string): Token[] {
  const tokens: Token[] = [];
  const stripped = code.replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, " ")).replace(/\/\/[^\n]*/g, "");
  const re = /[A-Za-z_][A-Za-z0-9_]*|\d[\w.]*|->|\S/g;
  let line = 1;
  let last = 0;
  for (const m of stripped.matchAll(re)) {
    for (let i = last; i < m.index; i++) if (stripped[i] === "\n") line++;
    last = m.index;
    tokens.push({ text: m[0], line });
  }
  return tokens;
}

/** A module-scope declaration: its name and the names its body or initializer refers to. */
interface Declaration {
  refs: Set<string>;
  binding?: Binding;
}

const DECLARATION = new Set(["fn", "var", "const", "override", "struct", "alias", "let"]);

/**
 * Reads the module-scope declarations, with the free names of each (for a function: every name
 * in its body that no parameter or local declaration shadows).
 */
function declarations(file: string, tokens: Token[]): Map<string, Declaration> {
  const decls = new Map<string, Declaration>();
  let i = 0;
  let pendingBinding: number | null = null;
  const expect = (text: string) => {
    if (tokens[i]?.text !== text) throw new Error(`${file}:${tokens[i]?.line ?? "end"}: expected '${text}' reading bindings`);
    i++;
  };
  while (i < tokens.length) {
    const t = tokens[i].text;
    if (t === "@") {
      const attr = tokens[i + 1]?.text;
      i += 2;
      if (tokens[i]?.text === "(") {
        const start = i;
        let depth = 0;
        do {
          if (tokens[i].text === "(") depth++;
          if (tokens[i].text === ")") depth--;
          i++;
        } while (depth > 0 && i < tokens.length);
        if (attr === "binding") pendingBinding = Number(tokens[start + 1].text.replace(/[iu]$/, ""));
        if (attr === "group" && tokens[start + 1].text.replace(/[iu]$/, "") !== "0") throw new Error(`${file}:${tokens[start].line}: only group 0 is supported`);
      }
      continue;
    }
    if (!DECLARATION.has(t)) {
      i++;
      continue;
    }
    i++;
    let type: BindingType | undefined;
    if (t === "var" && tokens[i]?.text === "<") {
      const space: string[] = [];
      for (i++; tokens[i].text !== ">"; i++) space.push(tokens[i].text);
      i++;
      if (space[0] === "uniform") type = "uniform";
      else if (space[0] === "storage") type = space.includes("read_write") ? "storage" : "read-only-storage";
    }
    const name = tokens[i++].text;
    const refs = new Set<string>();
    if (t === "fn") {
      const scopes: Set<string>[] = [new Set()];
      expect("(");
      // Parameters: `name : type`, comma separated (attributes skipped by the reference scan).
      let depth = 1;
      let expectName = true;
      while (depth > 0) {
        const p = tokens[i++].text;
        if (p === "(") depth++;
        else if (p === ")") depth--;
        else if (p === "," && depth === 1) expectName = true;
        else if (expectName && /^[A-Za-z_]/.test(p) && tokens[i]?.text === ":") {
          scopes[0].add(p);
          expectName = false;
        } else if (/^[A-Za-z_]/.test(p) && tokens[i - 2]?.text !== "@") refs.add(p);
      }
      while (tokens[i].text !== "{") {
        if (/^[A-Za-z_]/.test(tokens[i].text)) refs.add(tokens[i].text);
        i++;
      }
      functionBody(tokens, i, scopes, refs);
      i = pastBraces(tokens, i);
    } else if (t === "struct") {
      i = pastBraces(tokens, i);
    } else {
      for (; i < tokens.length && tokens[i].text !== ";"; i++) {
        if (/^[A-Za-z_]/.test(tokens[i].text) && tokens[i - 1]?.text !== ".") refs.add(tokens[i].text);
      }
    }
    const decl: Declaration = { refs };
    if (pendingBinding !== null) {
      if (!type) throw new Error(`${file}: binding ${pendingBinding} (${name}) is not a storage or uniform buffer`);
      decl.binding = { binding: pendingBinding, type };
    }
    pendingBinding = null;
    decls.set(name, decl);
  }
  return decls;
}

/** The index after the brace block that opens at or after tokens[i]. */
function pastBraces(tokens: Token[], i: number): number {
  let braces = 0;
  do {
    if (tokens[i].text === "{") braces++;
    if (tokens[i].text === "}") braces--;
    i++;
  } while (braces > 0 || tokens[i - 1].text !== "}");
  return i;
}

/** Adds the free names of the function body starting at tokens[start] = "{" to refs. */
function functionBody(tokens: Token[], start: number, outer: Set<string>[], refs: Set<string>): void {
  const scopes = [...outer];
  /** Scopes opened by `for (` headers, closed with the body that follows: brace depth of their body. */
  const forBodies: number[] = [];
  let depth = 0;
  let pending: { name: string; parens: number } | null = null;
  let parens = 0;
  const visible = (name: string) => scopes.some((s) => s.has(name));
  for (let i = start; i < tokens.length; i++) {
    const t = tokens[i].text;
    if (t === "{") {
      depth++;
      scopes.push(new Set());
    } else if (t === "}") {
      depth--;
      scopes.pop();
      while (forBodies.length && forBodies[forBodies.length - 1] === depth + 1) {
        forBodies.pop();
        scopes.pop();
      }
      if (depth === 0) return;
    } else if (t === "(") parens++;
    else if (t === ")") parens--;
    else if (t === "for") {
      scopes.push(new Set());
      forBodies.push(depth + 1);
    } else if (t === ";" && pending && pending.parens === parens) {
      scopes[scopes.length - 1].add(pending.name);
      pending = null;
    } else if ((t === "let" || t === "var" || t === "const") && !pending) {
      let j = i + 1;
      if (tokens[j].text === "<") while (tokens[j].text !== ">") j++;
      if (tokens[j].text === ">") j++;
      pending = { name: tokens[j].text, parens };
      i = j;
    } else if (/^[A-Za-z_]/.test(t) && tokens[i - 1]?.text !== "." && !visible(t)) {
      refs.add(t);
    }
  }
}

/** The bindings `entry` uses, in binding order. */
export function parseBindings(file: string, code: string, entry: string): Binding[] {
  const decls = declarations(file, tokenize(code));
  const used = new Set<string>();
  const visit = (name: string) => {
    if (used.has(name) || !decls.has(name)) return;
    used.add(name);
    for (const r of decls.get(name)!.refs) visit(r);
  };
  if (!decls.has(entry)) throw new Error(`${file}: no entry point '${entry}'`);
  visit(entry);
  const bindings = [...used].flatMap((n) => (decls.get(n)!.binding ? [decls.get(n)!.binding!] : [])).sort((a, b) => a.binding - b.binding);
  for (let i = 1; i < bindings.length; i++) {
    if (bindings[i].binding === bindings[i - 1].binding) throw new Error(`${file}:${entry}: two variables at binding ${bindings[i].binding}`);
  }
  return bindings;
}
