/**
 * File content and parser messages inside one-line errors: control characters (a newline from a
 * mutated file, a terminal escape) are escaped and long text is cut, so a refusal stays one
 * readable line whatever the file holds.
 */
export function oneLine(text: string, max = 600): string {
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  return cut.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/** `text` in single quotes, made one line and at most `max` characters. */
export const quoted = (text: string, max = 200): string => `'${oneLine(text, max)}'`;
