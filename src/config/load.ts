import { readFile } from 'node:fs/promises';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { HoistError } from '../errors.js';
import { configSchema, type HoistConfig } from './schema.js';

export interface ConfigProblem {
  path: string;
  line?: number;
  column?: number;
  message: string;
}

type PathSegment = string | number;

/** `tag` templates keep `$VAR`/`${VAR}` for the pipeline to fill, so interpolation skips them. */
function isTagTemplate(path: readonly PathSegment[]): boolean {
  return path.length === 3 && path[0] === 'apps' && typeof path[1] === 'number' && path[2] === 'tag';
}

export function formatPath(path: readonly PathSegment[]): string {
  return path.reduce<string>((out, seg) => (typeof seg === 'number' ? `${out}[${seg}]` : out ? `${out}.${seg}` : seg), '');
}

/*
 * `${VAR}` is not valid YAML inside a flow mapping (`{ token: ${X} }` opens a nested map), yet that is how
 * users write it. Before parsing, each well-formed reference becomes `$«VAR»`: same length (positions stay
 * right), legal in every YAML context, and not something anyone types. Scalars are then filled from the
 * environment, or turned back into `${VAR}` inside tag templates.
 */
const REFERENCE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
const MARKED = /\$\$\{|\$\u00ab([A-Za-z_][A-Za-z0-9_]*)\u00bb|\$\{([^}]*)\}/g;

function markReferences(text: string): string {
  return text.replace(REFERENCE, (match, name: string | undefined) => (name === undefined ? match : `$\u00ab${name}\u00bb`));
}

/** Fills `${VAR}` from `env` in every string scalar except tag templates; `$${` stays a literal `${`. */
function interpolate(doc: Document, env: Readonly<Record<string, string | undefined>>, lines: LineCounter): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const visit = (node: unknown, path: PathSegment[]): void => {
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        visit(pair.value, [...path, key]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => visit(item, [...path, index]));
    } else if (isScalar(node) && typeof node.value === 'string' && node.value.includes('$')) {
      if (isTagTemplate(path)) {
        node.value = node.value.replace(/\$\u00ab([A-Za-z_][A-Za-z0-9_]*)\u00bb/g, '${$1}');
        return;
      }
      node.value = node.value.replace(MARKED, (match, name: string | undefined, invalid: string | undefined) => {
        if (match === '$${') return '${';
        const value = name !== undefined ? env[name] : undefined;
        if (value !== undefined) return value;
        const pos = node.range ? lines.linePos(node.range[0]) : undefined;
        problems.push({
          path: formatPath(path),
          line: pos?.line,
          column: pos?.col,
          message: name !== undefined ? `environment variable ${name} is not set` : `"\${${invalid ?? ''}}" is not a valid variable reference`,
        });
        return match;
      });
    }
  };
  visit(doc.contents, []);
  return problems;
}

function locate(doc: Document, path: readonly PropertyKey[], lines: LineCounter): { line?: number; column?: number } {
  // Walk down as far as the document goes: a missing key is reported at its parent.
  for (let depth = path.length; depth >= 0; depth--) {
    const node = doc.getIn(path.slice(0, depth) as PathSegment[], true) as Node | undefined;
    if (node && typeof node === 'object' && 'range' in node && node.range) {
      const pos = lines.linePos(node.range[0]);
      return { line: pos.line, column: pos.col };
    }
  }
  return {};
}

/** Points at the key itself (an unknown key's value may be far away or absent). */
function locateKey(doc: Document, path: readonly PathSegment[], key: string, lines: LineCounter): { line?: number; column?: number } {
  const parent = path.length === 0 ? doc.contents : doc.getIn(path, true);
  if (isMap(parent)) {
    const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === key);
    if (pair && isScalar(pair.key) && pair.key.range) {
      const pos = lines.linePos(pair.key.range[0]);
      return { line: pos.line, column: pos.col };
    }
  }
  return locate(doc, path, lines);
}

function zodProblems(error: z.ZodError, doc: Document, lines: LineCounter): ConfigProblem[] {
  return error.issues.map((issue) => {
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    let message = issue.message;
    if (issue.code === 'unrecognized_keys') message = `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    const unknownKey = issue.code === 'unrecognized_keys' ? issue.keys[0] : undefined;
    const where = unknownKey !== undefined ? locateKey(doc, path, unknownKey, lines) : locate(doc, path, lines);
    return { path: formatPath(path) || '(top level)', ...where, message };
  });
}

export function describeProblems(source: string, problems: readonly ConfigProblem[]): string {
  return problems
    .map((p) => `${source}${p.line !== undefined ? `:${p.line}` : ''}${p.column !== undefined ? `:${p.column}` : ''}: ${p.path}: ${p.message}`)
    .join('\n');
}

/** Parses, interpolates and validates a config text; every problem is reported, not just the first. */
export function parseConfig(text: string, source: string, env: Readonly<Record<string, string | undefined>>): HoistConfig {
  const lines = new LineCounter();
  const doc = parseDocument(markReferences(text), { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const fail = (problems: ConfigProblem[]): never => {
    throw new HoistError('config_invalid', `invalid config:\n${describeProblems(source, problems)}`, {
      details: { problems },
    });
  };
  if (doc.errors.length > 0) {
    fail(
      doc.errors.map((e) => {
        const pos = lines.linePos(e.pos[0]);
        return { path: '(yaml)', line: pos.line, column: pos.col, message: e.message.split('\n')[0] ?? e.message };
      }),
    );
  }
  const interpolationProblems = interpolate(doc, env, lines);
  if (interpolationProblems.length > 0) fail(interpolationProblems);
  const result = configSchema.safeParse(doc.toJS({ maxAliasCount: 100 }) ?? {});
  if (!result.success) fail(zodProblems(result.error, doc, lines));
  return result.data as HoistConfig;
}

export async function loadConfigFile(path: string, env: Readonly<Record<string, string | undefined>>): Promise<HoistConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new HoistError('config_invalid', `cannot read config file ${path}: ${(cause as Error).message}`, { cause });
  }
  return parseConfig(text, path, env);
}
