import { isAlias, isCollection, isMap, isPair, isScalar, isSeq, parseAllDocuments } from 'yaml';
import type { Document, Node as YamlNode, Pair, YAMLMap, YAMLSeq } from 'yaml';
import { HoistError } from '../errors.js';

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

export function parseKustomization(text: string): ParsedKustomization {
  let docs: Document.Parsed[];
  try {
    docs = [...parseAllDocuments(text, { keepSourceTokens: true, prettyErrors: true })];
  } catch (error) {
    throw invalid(`kustomization is not valid YAML: ${error instanceof Error ? error.message : String(error)}`, error);
  }
  for (const doc of docs) {
    const error = doc.errors[0];
    if (error) throw invalid(`kustomization is not valid YAML: ${error.message}`, error);
  }
  const withContent = docs.filter(hasContent);
  if (withContent.length > 1) {
    throw invalid(`kustomization has ${withContent.length} YAML documents; a kustomization file holds exactly one`);
  }
  const doc = withContent[0];
  if (!doc || !isMap(doc.contents)) throw invalid('kustomization top level is not a map');
  const root = doc.contents;

  const imagesPair = root.items.find((pair) => isScalar(pair.key) && pair.key.value === 'images');
  // `{images}` in a flow map has no value node at all: that is `images:` with nothing after it.
  const imagesNode = imagesPair === undefined ? undefined : imagesPair.value === null ? null : asNode(imagesPair.value);
  const resolved = imagesNode ? resolve(doc, imagesNode) : undefined;
  let imagesSeq: YAMLSeq | undefined;
  if (resolved !== undefined && !(isScalar(resolved) && resolved.value === null)) {
    if (!isSeq(resolved)) throw invalid('kustomization `images` is not a sequence');
    imagesSeq = resolved;
  }

  const entries = (imagesSeq?.items ?? []).map((item, index): ParsedEntry => {
    const node = asNode(item);
    const map = resolve(doc, node);
    if (!isMap(map)) throw invalid(`kustomization images[${index}] is not a map`);
    return { node, map, entry: readEntry(doc, map, index) };
  });
  return { doc, root, imagesPair, imagesNode, imagesSeq, entries };
}

const ENTRY_KEYS = ['name', 'newName', 'newTag', 'digest'] as const;

function readEntry(doc: Document.Parsed, map: YAMLMap, index: number): ImageEntry {
  const values: Partial<Record<(typeof ENTRY_KEYS)[number], string>> = {};
  for (const key of ENTRY_KEYS) {
    const pair = findPair(map, key);
    if (pair === undefined) continue;
    const value = scalarText(doc, pair.value, `images[${index}].${key}`);
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
function scalarText(doc: Document.Parsed, value: unknown, where: string): string | undefined {
  if (value === null || value === undefined) return undefined;
  const node = resolve(doc, asNode(value));
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

function resolve(doc: Document.Parsed, node: YamlNode): YamlNode {
  if (!isAlias(node)) return node;
  const target = node.resolve(doc);
  if (target === undefined) throw invalid(`kustomization alias *${node.source} has no anchor`);
  return target;
}
