import { Composer, isAlias, isCollection, isMap, isPair, isScalar, isSeq, Lexer, LineCounter, Parser } from 'yaml';
import type { CST, Document, Node as YamlNode, Pair, YAMLError, YAMLMap, YAMLSeq } from 'yaml';
import { HoistError } from '../errors.js';
import { MAX_YAML_ALIASES, checkDocument, type AliasTargets } from './bounded-yaml.js';

/**
 * The largest kustomization Hoist reads, and the most YAML tokens (keys, values, indicators, line breaks) in
 * it. The yaml package parses a token in about 5 µs on a 2-core node, and an edit parses twice and compares:
 * the worst file within both bounds holds the event loop for about 250 ms (figures in docs/reliability.md).
 * A realistic 1,000-entry kustomization is about 60 KB and 16,000 tokens.
 */
export const MAX_KUSTOMIZATION_BYTES = 512 * 1024;
export const MAX_KUSTOMIZATION_TOKENS = 25_000;

export interface ImageEntry {
  name: string;
  newName?: string;
  newTag?: string;
  digest?: string;
}

/** One `images:` item: the node as written (maybe an alias) and the map it resolves to. */
export interface ParsedEntry {
  node: YamlNode;
  map: YAMLMap;
  entry: ImageEntry;
}

export interface ParsedKustomization {
  doc: Document.Parsed;
  root: YAMLMap;
  /** The top-level `images` pair, if the key is present. */
  imagesPair: Pair | undefined;
  /** Its value as written (may be an alias or an empty scalar); null when the pair has no value node. */
  imagesNode: YamlNode | null | undefined;
  /** The sequence it resolves to, if it is one. */
  imagesSeq: YAMLSeq | undefined;
  entries: ParsedEntry[];
}

export function invalid(message: string, cause?: unknown): HoistError {
  return new HoistError('kustomization_invalid', message, { retryable: false, cause });
}

/** A document with nothing but comments (or nothing) composes to an empty null scalar. */
function hasContent(doc: Document.Parsed): boolean {
  const contents = doc.contents;
  if (contents === null) return false;
  return !(isScalar(contents) && contents.value === null && (contents.source ?? '') === '' && !contents.tag && !contents.anchor);
}

/** Sizes as people read them: `5.2 MiB`, `128 KiB`. */
function formatBytes(bytes: number): string {
  const [unit, size] = bytes >= 1024 * 1024 ? ['MiB', bytes / (1024 * 1024)] : bytes >= 1024 ? ['KiB', bytes / 1024] : ['bytes', bytes];
  return `${size.toFixed(1).replace(/\.0$/, '')} ${unit}`;
}

/** Refuses a kustomization text larger than Hoist reads, before any parsing. */
export function checkKustomizationSize(text: string): void {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes <= MAX_KUSTOMIZATION_BYTES) return;
  let size = formatBytes(bytes);
  let limit = formatBytes(MAX_KUSTOMIZATION_BYTES);
  if (size === limit) [size, limit] = [`${bytes} bytes`, `${MAX_KUSTOMIZATION_BYTES} bytes`];
  throw new HoistError('kustomization_invalid', `kustomization is ${size}; Hoist reads kustomization files of at most ${limit}`, {
    retryable: false,
    details: { bytes, limitBytes: MAX_KUSTOMIZATION_BYTES },
  });
}

/** `parseAllDocuments` with the token bound: the lexer's output is counted on its way to the parser. */
function* boundedTokens(text: string, lines: LineCounter): Generator<CST.Token> {
  const parser = new Parser(lines.addNewLine);
  lines.addNewLine(0);
  let count = 0;
  for (const lexeme of new Lexer().lex(text)) {
    if (++count > MAX_KUSTOMIZATION_TOKENS) {
      throw invalid(`kustomization has more than ${MAX_KUSTOMIZATION_TOKENS.toLocaleString('en')} YAML tokens; Hoist reads kustomization files of at most that many`);
    }
    yield* parser.next(lexeme);
  }
  yield* parser.end();
}

function withPosition(error: YAMLError, lines: LineCounter): string {
  if (error.pos[0] < 0) return error.message;
  const { line, col } = lines.linePos(error.pos[0]);
  return `${error.message} at line ${line}, column ${col}`;
}

/** The one document of a kustomization text, composed within every bound, and where its aliases point. */
function composeKustomization(text: string, options: { keepSourceTokens: boolean }): { doc: Document.Parsed; aliases: AliasTargets } {
  checkKustomizationSize(text);
  const lines = new LineCounter();
  let docs: Document.Parsed[];
  try {
    // uniqueKeys is checked below in linear time: yaml's own check is quadratic in the keys of a map.
    docs = [...new Composer({ keepSourceTokens: options.keepSourceTokens, uniqueKeys: false }).compose(boundedTokens(text, lines))];
  } catch (error) {
    if (error instanceof HoistError) throw error;
    // A RangeError is nesting deeper than the stack: `[[[[…]]]]`.
    throw invalid(`kustomization is not valid YAML: ${error instanceof Error ? error.message : String(error)}`, error);
  }
  for (const doc of docs) {
    const error = doc.errors[0];
    if (error) throw invalid(`kustomization is not valid YAML: ${withPosition(error, lines)}`, error);
  }
  const withContent = docs.filter(hasContent);
  if (withContent.length > 1) {
    throw invalid(`kustomization has ${withContent.length} YAML documents; a kustomization file holds exactly one`);
  }
  const doc = withContent[0];
  if (!doc || !isMap(doc.contents)) throw invalid('kustomization top level is not a map');
  try {
    const aliases = checkDocument(doc, text, (reason, cause) => invalid(`kustomization is not valid YAML: ${reason}`, cause), { uniqueKeys: true });
    return { doc, aliases };
  } catch (error) {
    if (error instanceof HoistError) throw error;
    throw invalid(`kustomization is not valid YAML: ${error instanceof Error ? error.message : String(error)}`, error);
  }
}

export function parseKustomization(text: string): ParsedKustomization {
  const { doc, aliases } = composeKustomization(text, { keepSourceTokens: true });
  const root = doc.contents as YAMLMap;
  const resolve = (node: YamlNode): YamlNode => resolveAlias(aliases, node);

  const imagesPair = root.items.find((pair) => isScalar(pair.key) && pair.key.value === 'images');
  // `{images}` in a flow map has no value node at all: that is `images:` with nothing after it.
  const imagesNode = imagesPair === undefined ? undefined : imagesPair.value === null ? null : asNode(imagesPair.value);
  const resolved = imagesNode ? resolve(imagesNode) : undefined;
  let imagesSeq: YAMLSeq | undefined;
  if (resolved !== undefined && !(isScalar(resolved) && resolved.value === null)) {
    if (!isSeq(resolved)) throw invalid('kustomization `images` is not a sequence');
    imagesSeq = resolved;
  }

  const entries = (imagesSeq?.items ?? []).map((item, index): ParsedEntry => {
    const node = asNode(item);
    const map = resolve(node);
    if (!isMap(map)) throw invalid(`kustomization images[${index}] is not a map`);
    return { node, map, entry: readEntry(resolve, map, index) };
  });
  return { doc, root, imagesPair, imagesNode, imagesSeq, entries };
}

/**
 * A kustomization's plain values, for readers that need no source positions (the render cache's walk of the
 * bases an overlay names): bounded like parseKustomization, and without its checks of `images`.
 */
export function kustomizationData(text: string): unknown {
  return composeKustomization(text, { keepSourceTokens: false }).doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
}

const ENTRY_KEYS = ['name', 'newName', 'newTag', 'digest'] as const;

function readEntry(resolve: (node: YamlNode) => YamlNode, map: YAMLMap, index: number): ImageEntry {
  const values: Partial<Record<(typeof ENTRY_KEYS)[number], string>> = {};
  for (const key of ENTRY_KEYS) {
    const pair = findPair(map, key);
    if (pair === undefined) continue;
    const value = scalarText(resolve, pair.value, `images[${index}].${key}`);
    if (value !== undefined) values[key] = value;
  }
  if (values.name === undefined) throw invalid(`kustomization images[${index}] has no name`);
  const entry: ImageEntry = { name: values.name };
  if (values.newName !== undefined) entry.newName = values.newName;
  if (values.newTag !== undefined) entry.newTag = values.newTag;
  if (values.digest !== undefined) entry.digest = values.digest;
  return entry;
}

export function findPair(map: YAMLMap, key: string): Pair | undefined {
  return map.items.find((pair) => isScalar(pair.key) && pair.key.value === key);
}

/**
 * The string kustomize sees, as far as we can tell: null, `~` and empty mean absent; a plain scalar that YAML
 * resolves to a number or boolean (`1.10`, `12345678`, `true`) is returned as written, not as 1.1.
 */
function scalarText(resolve: (node: YamlNode) => YamlNode, value: unknown, where: string): string | undefined {
  if (value === null || value === undefined) return undefined;
  const node = resolve(asNode(value));
  if (!isScalar(node)) throw invalid(`kustomization ${where} is not a string`);
  if (node.value === null) return undefined;
  if (typeof node.value === 'string') return node.value;
  return node.source ?? String(node.value);
}

function asNode(value: unknown): YamlNode {
  if (isAlias(value) || isScalar(value) || isCollection(value)) return value;
  if (isPair(value)) throw invalid('kustomization has a key/value pair where a value was expected');
  throw invalid('kustomization has an unexpected node');
}

function resolveAlias(aliases: AliasTargets, node: YamlNode): YamlNode {
  if (!isAlias(node)) return node;
  const target = aliases.get(node);
  if (target === undefined) throw invalid(`kustomization alias *${node.source} has no anchor`);
  return target;
}
