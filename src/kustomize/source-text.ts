/** A replacement of the source bytes [start, end) by `text`; edits never reprint anything they do not touch. */
export interface Splice {
  start: number;
  end: number;
  text: string;
}

export function applySplices(source: string, splices: readonly Splice[]): string {
  const ordered = [...splices].sort((a, b) => a.start - b.start || a.end - b.end);
  let out = '';
  let at = 0;
  for (const splice of ordered) {
    if (splice.start < at || splice.end < splice.start) throw new Error('overlapping edits');
    out += source.slice(at, splice.start) + splice.text;
    at = splice.end;
  }
  return out + source.slice(at);
}

/** The line break added lines use: CRLF when the file has any, so a CRLF file stays all-CRLF. */
export function lineBreakOf(source: string): string {
  return source.includes('\r\n') ? '\r\n' : '\n';
}

/** True when no '\n' in `source` lacks its '\r' (and there is at least one line break). */
export function isAllCrlf(source: string): boolean {
  return source.includes('\r\n') && !/(?:^|[^\r])\n/.test(source);
}

export function lineStartOf(source: string, offset: number): number {
  return source.lastIndexOf('\n', offset - 1) + 1;
}

/** Column of `offset` on its line, not counting a byte order mark at the start of the file. */
export function columnOf(source: string, offset: number): number {
  const start = lineStartOf(source, offset);
  const bom = start === 0 && source.startsWith('\uFEFF') ? 1 : 0;
  return offset - start - bom;
}

/**
 * Index of the '\n' that ends the line holding the content that ends at `end` (an exclusive offset),
 * or -1 when that line is the last one and has no line break.
 */
export function lineBreakAfter(source: string, end: number): number {
  if (end > 0 && source[end - 1] === '\n') return end - 1;
  return source.indexOf('\n', end);
}

/** Offset where the line break ending that line begins ('\r' of a CRLF), or the end of the text. */
export function lineContentEnd(source: string, end: number): number {
  const newline = lineBreakAfter(source, end);
  if (newline < 0) return source.length;
  return newline > 0 && source[newline - 1] === '\r' ? newline - 1 : newline;
}

/** A splice inserting whole lines after the line that holds offset `end`, keeping a missing final newline missing. */
export function insertLinesAfter(source: string, end: number, lines: readonly string[]): Splice {
  const eol = lineBreakOf(source);
  const newline = lineBreakAfter(source, end);
  if (newline < 0) return { start: source.length, end: source.length, text: lines.map((line) => eol + line).join('') };
  return { start: newline + 1, end: newline + 1, text: lines.map((line) => line + eol).join('') };
}

export function spaces(count: number): string {
  return ' '.repeat(Math.max(0, count));
}
