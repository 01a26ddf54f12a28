import { readFile } from 'node:fs/promises';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { didYouMean } from '../domain/suggest.js';
import { HoistError } from '../errors.js';
import { appSchema, configSchema, environmentSchema, type HoistConfig } from './schema.js';

export interface ConfigProblem {
  path: string;
  line?: number;
  column?: number;
  message: string;
  /** The variable, when the problem is an unset `${VAR}` (`hoist validate --allow-unset-vars` leaves those out). */
  unsetVariable?: string;
}

/** What the overlay checks need of a config, from every entry that names it validly, even in a config with problems. */
export interface ConfigLayout {
  environments: { index: number; name: string; path: string }[];
  apps: { index: number; name: string; image: string }[];
}

export interface ConfigAnalysis {
  /** The config, when there is no problem at all. */
  config: HoistConfig | undefined;
  /** Every problem of every stage (YAML, `${VAR}`, schema), in file order. */
  problems: ConfigProblem[];
  /** Undefined when the text is not valid YAML: then what it names is a guess. */
  layout: ConfigLayout | undefined;
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
          ...(name !== undefined ? { unsetVariable: name } : {}),
        });
        return match;
      });
    }
  };
  visit(doc.contents, []);
  return problems;
}

interface Located {
  line?: number;
  column?: number;
  /** Offsets of the node reported at, to tell whether it lies before a YAML syntax error. */
  range?: readonly [number, number];
}

function at(node: unknown, lines: LineCounter): Located | undefined {
  if (!node || typeof node !== 'object' || !('range' in node) || !node.range) return undefined;
  const range = node.range as [number, number, number];
  const pos = lines.linePos(range[0]);
  return { line: pos.line, column: pos.col, range: [range[0], range[2]] };
}

function locate(doc: Document, path: readonly PathSegment[], lines: LineCounter): Located {
  // Walk down as far as the document goes: a missing key is reported at its parent.
  for (let depth = path.length; depth >= 0; depth--) {
    const found = at(doc.getIn(path.slice(0, depth), true), lines);
    if (found) return found;
  }
  return {};
}

/** Points at the key itself (an unknown key's value may be far away or absent). */
function locateKey(doc: Document, path: readonly PathSegment[], key: string, lines: LineCounter): Located {
  const parent = path.length === 0 ? doc.contents : doc.getIn(path, true);
  if (isMap(parent)) {
    const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === key);
    const found = pair ? at(pair.key, lines) : undefined;
    if (found) return found;
  }
  return locate(doc, path, lines);
}

/** A missing key is reported where its mapping is named: `gitops:` for `gitops.url`, the list item for `environments[0].path`. */
function locateMissing(doc: Document, path: readonly PathSegment[], lines: LineCounter): Located {
  const parentPath = path.slice(0, -1);
  const last = parentPath.at(-1);
  if (typeof last === 'string') return locateKey(doc, parentPath.slice(0, -1), last, lines);
  return locate(doc, parentPath, lines);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function valueAt(data: unknown, path: readonly PathSegment[]): { found: boolean; value?: unknown } {
  let value = data;
  for (const segment of path) {
    if (Array.isArray(value) && typeof segment === 'number' && segment < value.length) value = value[segment];
    else if (isPlainObject(value) && typeof segment === 'string' && Object.hasOwn(value, segment) && value[segment] !== undefined) value = value[segment];
    else return { found: false };
  }
  return { found: true, value };
}

interface SchemaDef {
  type: string;
  shape?: Record<string, { _zod: { def: SchemaDef } }>;
  innerType?: { _zod: { def: SchemaDef } };
  in?: { _zod: { def: SchemaDef } };
  element?: { _zod: { def: SchemaDef } };
  valueType?: { _zod: { def: SchemaDef } };
}

/** The keys the schema allows at `path`, for "did you mean" on an unknown key. */
function allowedKeys(path: readonly PathSegment[]): string[] {
  let def: SchemaDef | undefined = (configSchema as unknown as { _zod: { def: SchemaDef } })._zod.def;
  const unwrap = (d: SchemaDef | undefined): SchemaDef | undefined => {
    let current = d;
    for (let guard = 0; current && guard < 20; guard++) {
      const inner = current.innerType ?? (current.type === 'pipe' ? current.in : undefined);
      if (!inner) break;
      current = inner._zod.def;
    }
    return current;
  };
  for (const segment of path) {
    def = unwrap(def);
    if (def?.type === 'object' && typeof segment === 'string') def = def.shape?.[segment]?._zod.def;
    else if (def?.type === 'array') def = def.element?._zod.def;
    else if (def?.type === 'record') def = def.valueType?._zod.def;
    else return [];
  }
  def = unwrap(def);
  return def?.type === 'object' ? Object.keys(def.shape ?? {}) : [];
}

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'a mapping (key: value)',
  record: 'a mapping (key: value)',
  array: 'a list',
};

function describeValue(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  return `${typeof value === 'boolean' ? 'the boolean' : 'the number'} ${String(value)}`;
}

function oneOf(values: readonly unknown[]): string {
  const quoted = values.map((v) => JSON.stringify(v));
  return quoted.length <= 1 ? (quoted[0] ?? '') : `${quoted.slice(0, -1).join(', ')} or ${quoted.at(-1)}`;
}

/** Zod's issues, in the words of someone reading a YAML file: `missing`, `unknown key … (did you mean …?)`, `must be …`. */
type SchemaProblem = ConfigProblem & Located & { missing: boolean };

function zodProblems(error: z.ZodError, data: unknown, doc: Document, lines: LineCounter): SchemaProblem[] {
  return error.issues.flatMap((issue): SchemaProblem[] => {
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    const label = formatPath(path) || '(top level)';
    if (issue.code === 'unrecognized_keys') {
      const allowed = allowedKeys(path);
      return issue.keys.map((key) => {
        const hint = didYouMean(key, allowed) || (allowed.length > 0 ? ` (known keys: ${allowed.join(', ')})` : '');
        return { path: label, ...locateKey(doc, path, key, lines), message: `unknown key "${key}"${hint}`, missing: false };
      });
    }
    const present = valueAt(data, path);
    if ((issue.code === 'invalid_type' || issue.code === 'invalid_value') && !present.found && path.length > 0) {
      const message = issue.code === 'invalid_value' ? `missing (one of ${oneOf(issue.values)})` : 'missing';
      return [{ path: label, ...locateMissing(doc, path, lines), message, missing: true }];
    }
    let message = issue.message;
    // `key:` with nothing after it: written, but as good as missing.
    const empty = present.value === null;
    if (issue.code === 'invalid_value' && empty) {
      message = `has no value (one of ${oneOf(issue.values)})`;
    } else if (issue.code === 'invalid_type' && empty && EXPECTED[issue.expected] !== undefined) {
      message = `has no value (expected ${EXPECTED[issue.expected]})`;
    } else if (issue.code === 'invalid_value') {
      const got = present.value;
      message = `must be one of ${oneOf(issue.values)}, not ${describeValue(got)}${typeof got === 'string' ? didYouMean(got, issue.values.map(String)) : ''}`;
    } else if (issue.code === 'invalid_type' && EXPECTED[issue.expected] !== undefined) {
      message = `must be ${EXPECTED[issue.expected]}, not ${describeValue(present.value)}`;
    } else if (issue.code === 'too_small' && issue.message.startsWith('Too small')) {
      if (issue.origin === 'string' && Number(issue.minimum) === 1) message = 'must not be empty';
      else if (issue.origin === 'array') message = Number(issue.minimum) === 1 ? 'must list at least one entry' : `must list at least ${String(issue.minimum)} entries`;
    }
    return [{ path: label, ...locate(doc, path, lines), message, missing: false }];
  });
}

/** Every environment and app whose own name, path or image is valid, so overlays are checked in a config with other problems. */
function layoutOf(data: unknown, problems: readonly ConfigProblem[]): ConfigLayout {
  const flagged = new Set(problems.map((p) => p.path));
  const clean = (...paths: string[]): boolean => paths.every((p) => !flagged.has(p));
  const listAt = (key: string): unknown[] => {
    const value = isPlainObject(data) ? data[key] : undefined;
    return Array.isArray(value) ? value : [];
  };
  const layout: ConfigLayout = { environments: [], apps: [] };
  listAt('environments').forEach((env, index) => {
    if (!isPlainObject(env)) return;
    const name = environmentSchema.shape.name.safeParse(env.name);
    const path = environmentSchema.shape.path.safeParse(env.path);
    const key = `environments[${index}]`;
    if (name.success && path.success && clean(key, `${key}.name`, `${key}.path`)) layout.environments.push({ index, name: name.data, path: path.data });
  });
  listAt('apps').forEach((app, index) => {
    if (!isPlainObject(app)) return;
    const name = appSchema.shape.name.safeParse(app.name);
    const image = appSchema.shape.image.safeParse(app.image);
    const key = `apps[${index}]`;
    if (name.success && image.success && clean(key, `${key}.name`, `${key}.image`)) layout.apps.push({ index, name: name.data, image: image.data });
  });
  return layout;
}

function byPosition(a: ConfigProblem, b: ConfigProblem): number {
  return (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER) || (a.column ?? 0) - (b.column ?? 0);
}

/**
 * Parses, interpolates and validates a config text, and reports the problems of every stage at once: YAML
 * syntax, `${VAR}` references and the schema. What an unset variable's value would have failed is not
 * reported twice; after a YAML syntax error only the schema problems of the text before it are, since what
 * follows (and so what seems missing) is a guess.
 */
export function analyzeConfig(text: string, env: Readonly<Record<string, string | undefined>>): ConfigAnalysis {
  const lines = new LineCounter();
  const doc = parseDocument(markReferences(text), { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const yamlProblems: ConfigProblem[] = doc.errors.map((e) => {
    const pos = lines.linePos(e.pos[0]);
    return { path: '(yaml)', line: pos.line, column: pos.col, message: e.message.split('\n')[0] ?? e.message };
  });
  const syntaxErrorAt = Math.min(...doc.errors.map((e) => e.pos[0]));
  const variableProblems = interpolate(doc, env, lines);

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 }) ?? {};
  } catch (error) {
    // An alias bomb, or an alias to nothing: nothing after this can be trusted.
    yamlProblems.push({ path: '(yaml)', line: 1, column: 1, message: (error as Error).message });
    return { config: undefined, problems: [...yamlProblems, ...variableProblems].sort(byPosition), layout: undefined };
  }
  const result = configSchema.safeParse(data);
  const covered = (path: string): boolean =>
    variableProblems.some(({ path: v }) => path === v || path.startsWith(`${v}.`) || path.startsWith(`${v}[`));
  const schemaProblems = result.success
    ? []
    : zodProblems(result.error, data, doc, lines)
        .filter((p) => !covered(p.path))
        .filter((p) => yamlProblems.length === 0 || (!p.missing && p.range !== undefined && p.range[1] < syntaxErrorAt))
        .map(({ path, line, column, message }): ConfigProblem => ({ path, line, column, message }));

  const problems = [...yamlProblems, ...variableProblems, ...schemaProblems].sort(byPosition);
  return {
    config: problems.length === 0 && result.success ? (result.data as HoistConfig) : undefined,
    problems,
    layout: yamlProblems.length > 0 ? undefined : layoutOf(data, problems),
  };
}

export function describeProblems(source: string, problems: readonly ConfigProblem[]): string {
  return problems
    .map((p) => `${source}${p.line !== undefined ? `:${p.line}` : ''}${p.column !== undefined ? `:${p.column}` : ''}: ${p.path}: ${p.message}`)
    .join('\n');
}

/** Parses, interpolates and validates a config text; every problem is reported, not just the first. */
export function parseConfig(text: string, source: string, env: Readonly<Record<string, string | undefined>>): HoistConfig {
  const { config, problems } = analyzeConfig(text, env);
  if (config === undefined) {
    throw new HoistError('config_invalid', `invalid config:\n${describeProblems(source, problems)}`, {
      details: { problems: problems.map(({ path, line, column, message }) => ({ path, line, column, message })) },
    });
  }
  return config;
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
