import { isDeepStrictEqual } from 'node:util';
import { isAlias, isCollection, isMap, isPair, isScalar, isSeq } from 'yaml';
import type { CST, Node as YamlNode, Pair, YAMLMap, YAMLSeq } from 'yaml';
import { HoistError } from '../errors.js';
import { MAX_YAML_ALIASES } from './bounded-yaml.js';
import { isPlainSafe, isValidDigest, isValidImageName, isValidTag } from './image-ref.js';
import { findPair, invalid, parseKustomization } from './kustomization.js';
import type { ImageEntry, ParsedEntry, ParsedKustomization } from './kustomization.js';
import {
  applySplices,
  columnOf,
  insertLinesAfter,
  isAllCrlf,
  lineBreakAfter,
  lineContentEnd,
  lineStartOf,
  spaces,
} from './source-text.js';
import type { Splice } from './source-text.js';

export type { ImageEntry } from './kustomization.js';
export { isValidDigest, isValidTag } from './image-ref.js';

/**
 * A tag, a digest, or both (`pin: digest`: `newTag` and `digest` side by side, rendered `name:tag@digest`). A key the
 * change leaves out is dropped from the entry, as `kustomize edit set image` does: a stale digest would otherwise win
 * over the new tag at render time.
 */
export type ImageChange = { name: string; tag: string; digest?: string | undefined } | { name: string; digest: string };

export type EditResult =
  | { changed: true; text: string; before: ImageEntry | undefined; after: ImageEntry }
  | { changed: false; text: string; entry: ImageEntry };

type ValueKey = 'newTag' | 'digest';
const VALUE_KEYS: readonly ValueKey[] = ['newTag', 'digest'];

/** What a change sets; the value keys it leaves out are dropped. */
type Values = Partial<Record<ValueKey, string>>;
const dropped = (values: Values): ValueKey[] => VALUE_KEYS.filter((k) => values[k] === undefined);

/** The entries of `images:`, in file order; an empty array when there are none. */
export function readImages(text: string): ImageEntry[] {
  return parseKustomization(text).entries.map((parsed) => parsed.entry);
}

/**
 * `kustomize edit set image <name>=*:<tag>` (or `=*@<digest>`) without reformatting the file: only the bytes of
 * the changed values move. The result is re-parsed and compared with the original before it is returned.
 */
export function setImage(text: string, change: ImageChange): EditResult {
  return editParsed(text, parseKustomization(text), change).result;
}

/** The edit on an already parsed text; also hands back the parse of the result, when there is one. */
function editParsed(text: string, parsed: ParsedKustomization, change: ImageChange): { result: EditResult; reparsed?: ParsedKustomization } {
  const values = validateChange(change);

  const matches = parsed.entries.flatMap((entry, index) => (entry.entry.name === change.name ? [{ entry, index }] : []));
  if (matches.length > 1) {
    throw invalid(
      `image ${change.name} matches several entries in images (${matches.map((m) => `images[${m.index}]`).join(', ')}); ` +
        'kustomize would apply only one of them, so fix the kustomization by hand',
    );
  }
  const match = matches[0];
  const editor = new SourceEditor(text);

  if (match !== undefined) {
    if (isUnchanged(match.entry, values)) return { result: { changed: false, text, entry: match.entry.entry } };
    refuseProps(parsed.imagesNode, 'the images sequence');
    editEntry(editor, match.entry, values);
  } else {
    appendEntry(editor, parsed, change.name, values);
  }

  const result = editor.result();
  const desired: ImageEntry = withValues({ ...match?.entry.entry, name: change.name }, values);
  const { entry: after, reparsed } = verifyEdit(text, parsed, result, match?.index, desired, values);
  return { result: { changed: true, text: result, before: match?.entry.entry, after }, reparsed };
}

export interface ImageEditor {
  setImage(text: string, change: ImageChange): EditResult;
  /** The `images:` entries of a text, from memory when the editor read or wrote it, else parsed. */
  entries(text: string): ImageEntry[];
}

/**
 * Where an entry's value can be replaced without parsing the file again: a single-line flow scalar (plain or
 * quoted, no anchor or tag). Swapping such a token for a double-quoted validated tag or digest cannot change how
 * anything around it reads, so no re-parse is needed to prove it.
 */
interface ValueSlot {
  start: number;
  end: number;
  /** Whether the value as written already reads as the string kustomize sees (a plain `1.10` does not). */
  safe: boolean;
}

interface IndexedEntry {
  entry: ImageEntry;
  /** Per value the entry holds, where it can be replaced in place (none when the entry cannot be edited in place). */
  slots: Partial<Record<ValueKey, ValueSlot>>;
}

/** What the editor keeps of a text it parsed or wrote: its entries and where their values sit. */
interface ImagesIndex {
  text: string;
  entries: IndexedEntry[];
}

const FLOW_SCALARS = new Set(['PLAIN', 'QUOTE_DOUBLE', 'QUOTE_SINGLE']);

function indexOf(text: string, parsed: ParsedKustomization): ImagesIndex {
  const seqEditable = !hasProps(parsed.imagesNode);
  const entries = parsed.entries.map((parsedEntry): IndexedEntry => {
    const { entry, node, map } = parsedEntry;
    const slots: IndexedEntry['slots'] = {};
    if (!seqEditable || isAlias(node) || hasProps(map)) return { entry, slots };
    for (const key of VALUE_KEYS) {
      const pair = findPair(map, key);
      if (pair === undefined || hasProps(pair.key as YamlNode) || hasProps(pair.value as YamlNode | null)) continue;
      const value = pair.value;
      if (!isScalar(value) || !FLOW_SCALARS.has(value.type ?? '') || !value.range || value.range[1] <= value.range[0]) continue;
      const [start, end] = value.range;
      if (/[\r\n]/.test(text.slice(start, end)) || !/^(?:[ \t\r\n,\]}]|$)/.test(text.slice(end, end + 1))) continue;
      slots[key] = { start, end, safe: readsAsWritten(parsedEntry, key) };
    }
    return { entry, slots };
  });
  return { text, entries };
}

function hasProps(node: YamlNode | null | undefined): boolean {
  return node !== null && node !== undefined && (isAlias(node) || Boolean(node.anchor) || Boolean(node.tag));
}

/**
 * An editor that remembers the last few texts it read or wrote, with where each entry's value sits. Promotions
 * edit the file this editor wrote last, so they replace one value in place instead of parsing the whole file
 * twice: on a 1,000-entry kustomization that is well under a millisecond instead of ~100 ms. A text it does not
 * know, and any edit other than replacing an existing single-line value, goes through `setImage`.
 */
export function createImageEditor(options: { remember?: number } = {}): ImageEditor {
  const capacity = options.remember ?? 8;
  const known: ImagesIndex[] = [];
  const remember = (index: ImagesIndex): ImagesIndex => {
    const at = known.findIndex((k) => k.text === index.text);
    if (at >= 0) known.splice(at, 1);
    known.unshift(index);
    known.length = Math.min(known.length, capacity);
    return index;
  };
  const lookup = (text: string): ImagesIndex | undefined => known.find((k) => k.text === text);

  const fast = (index: ImagesIndex, change: ImageChange): EditResult | undefined => {
    const values = validateChange(change);
    let at = -1;
    for (const [i, indexed] of index.entries.entries()) {
      if (indexed.entry.name !== change.name) continue;
      if (at >= 0) return undefined; // several entries: setImage says why it refuses
      at = i;
    }
    const target = index.entries[at];
    if (target === undefined) return undefined;
    const keys = VALUE_KEYS.filter((k) => values[k] !== undefined);
    // In place means replacing values only: nothing to drop, and every value to set already has its slot.
    if (dropped(values).some((k) => target.entry[k] !== undefined) || keys.some((k) => target.slots[k] === undefined)) return undefined;
    const splices = keys.flatMap((key) => {
      const slot = target.slots[key] as ValueSlot;
      const value = values[key] as string;
      return target.entry[key] === value && slot.safe ? [] : [{ key, slot, token: quoted(value) }];
    });
    if (splices.length === 0) return { changed: false, text: index.text, entry: target.entry };
    let text = index.text;
    // Right to left: each replacement leaves the offsets of those before it as they were.
    for (const { slot, token } of [...splices].sort((a, b) => b.slot.start - a.slot.start)) text = text.slice(0, slot.start) + token + text.slice(slot.end);
    const shiftAt = (offset: number) => splices.reduce((sum, { slot, token }) => (slot.end <= offset ? sum + token.length - (slot.end - slot.start) : sum), 0);
    const after = withValues({ ...target.entry }, values);
    const entries = index.entries.map((indexed, i): IndexedEntry => {
      const slots: IndexedEntry['slots'] = {};
      for (const key of VALUE_KEYS) {
        const slot = indexed.slots[key];
        if (slot === undefined) continue;
        const start = slot.start + shiftAt(slot.start);
        const edited = i === at ? splices.find((s) => s.key === key) : undefined;
        slots[key] = edited ? { start, end: start + edited.token.length, safe: true } : { ...slot, start, end: start + (slot.end - slot.start) };
      }
      return { entry: i === at ? after : indexed.entry, slots };
    });
    remember({ text, entries });
    return { changed: true, text, before: target.entry, after };
  };

  return {
    setImage(text, change) {
      const index = lookup(text);
      const quick = index && fast(index, change);
      if (quick) return quick;
      const parsed = parseKustomization(text);
      if (!index) remember(indexOf(text, parsed));
      const { result, reparsed } = editParsed(text, parsed, change);
      if (reparsed) remember(indexOf(result.text, reparsed));
      return result;
    },
    entries(text) {
      const index = lookup(text) ?? remember(indexOf(text, parseKustomization(text)));
      return index.entries.map((e) => ({ ...e.entry }));
    },
  };
}

function validateChange(change: ImageChange): Values {
  const raw = change as { name?: unknown; tag?: unknown; digest?: unknown };
  if (typeof raw.name !== 'string' || !isValidImageName(raw.name)) {
    throw new HoistError('bad_request', `invalid image name ${JSON.stringify(raw.name)}`, { retryable: false });
  }
  if (raw.tag === undefined && raw.digest === undefined) throw new HoistError('bad_request', 'an image change needs a tag, a digest or both', { retryable: false });
  const values: Values = {};
  if (raw.tag !== undefined) {
    if (typeof raw.tag !== 'string' || !isValidTag(raw.tag)) {
      throw new HoistError('bad_request', `invalid image tag ${JSON.stringify(raw.tag)}`, { retryable: false });
    }
    values.newTag = raw.tag;
  }
  if (raw.digest !== undefined) {
    if (typeof raw.digest !== 'string' || !isValidDigest(raw.digest)) {
      throw new HoistError('bad_request', `invalid image digest ${JSON.stringify(raw.digest)}`, { retryable: false });
    }
    values.digest = raw.digest;
  }
  return values;
}

/** The entry with the change's values set and the value keys it leaves out dropped. */
function withValues<T extends Partial<Record<ValueKey, unknown>>>(entry: T, values: Values): T {
  for (const key of VALUE_KEYS) {
    if (values[key] === undefined) delete entry[key];
    else (entry as Record<ValueKey, unknown>)[key] = values[key];
  }
  return entry;
}

/** Whether the scalar as written reads as the same string in YAML 1.1 (a plain `1.10` is 1.1 to kustomize). */
function readsAsWritten(parsed: ParsedEntry, key: ValueKey): boolean {
  const node = findPair(parsed.map, key)?.value;
  if (!isScalar(node)) return true; // an alias to an anchored value
  return node.type !== 'PLAIN' || isPlainSafe(node.source ?? '');
}

/** Nothing to write when every value is already there as kustomize reads it and nothing is left to drop. */
function isUnchanged(parsed: ParsedEntry, values: Values): boolean {
  return VALUE_KEYS.every((key) => {
    const value = values[key];
    return value === undefined ? parsed.entry[key] === undefined : parsed.entry[key] === value && readsAsWritten(parsed, key);
  });
}

function quoted(value: string): string {
  // Validated tags, digests and names hold no character that needs escaping in a double-quoted scalar.
  return `"${value}"`;
}

function nameScalar(name: string): string {
  return isPlainSafe(name) ? name : quoted(name);
}

function editEntry(editor: SourceEditor, parsed: ParsedEntry, values: Values): void {
  if (isAlias(parsed.node)) throw invalid(`refusing to edit images entry ${parsed.entry.name}: it is an alias (*${parsed.node.source})`);
  const map = parsed.map;
  refuseProps(map, `images entry ${parsed.entry.name}`);
  const pairs = VALUE_KEYS.map((key) => ({ key, pair: findPair(map, key) }));
  for (const { pair } of pairs) {
    if (pair === undefined) continue;
    refuseProps(pair.key as YamlNode, `the ${String((pair.key as { value?: unknown }).value)} key`);
    refuseProps(pair.value as YamlNode | null, `the ${String((pair.key as { value?: unknown }).value)} value`);
  }
  const adds: string[] = [];
  const removes: Pair[] = [];
  for (const { key, pair } of pairs) {
    const value = values[key];
    if (value === undefined) {
      if (pair !== undefined) removes.push(pair);
    } else if (pair === undefined) {
      adds.push(`${key}: ${quoted(value)}`);
    } else if (parsed.entry[key] !== value || !readsAsWritten(parsed, key)) {
      editor.replaceValue(pair, quoted(value));
    }
  }
  const [add] = adds;
  const [remove] = removes;
  if (adds.length === 1 && removes.length === 1 && add !== undefined && remove !== undefined) {
    // Swapping digest for newTag in place keeps the entry's key order; the old value's comment goes with it.
    editor.replacePair(map, remove, add);
    return;
  }
  for (const pair of removes) editor.removePair(map, pair);
  if (adds.length > 0) editor.addPairs(map, adds);
}

function appendEntry(editor: SourceEditor, parsed: ParsedKustomization, name: string, values: Values): void {
  const fields = [`name: ${nameScalar(name)}`, ...VALUE_KEYS.flatMap((key) => (values[key] === undefined ? [] : [`${key}: ${quoted(values[key])}`]))];
  const flowEntry = `{${fields.join(', ')}}`;
  const { root, imagesPair, imagesNode, imagesSeq } = parsed;

  if (imagesPair === undefined) {
    refuseProps(root, 'the top-level map');
    editor.addRootPair(root, 'images', fields, flowEntry);
    return;
  }
  refuseProps(imagesPair.key as YamlNode, 'the images key');
  refuseProps(imagesNode ?? null, 'the images sequence');
  if (imagesSeq === undefined || imagesSeq.items.length === 0) {
    editor.fillEmptyImages(root, imagesPair, fields, flowEntry);
  } else {
    editor.appendItem(imagesSeq, fields, flowEntry);
  }
}

/** Anchors, aliases and explicit tags make an edit mean more (or less) than it looks: refuse rather than guess. */
function refuseProps(node: YamlNode | null | undefined, what: string): void {
  if (node === null || node === undefined) return;
  if (isAlias(node)) throw invalid(`refusing to edit ${what}: it is an alias (*${node.source})`);
  if (node.anchor) throw invalid(`refusing to edit ${what}: it carries the anchor &${node.anchor}`);
  if (node.tag) throw invalid(`refusing to edit ${what}: it carries the explicit tag ${node.tag.replace('tag:yaml.org,2002:', '!!')}`);
}

interface IndentStyle {
  /** Columns from a key to the '-' of its block sequence value (0: `key:\n- a`, 2: `key:\n  - a`). */
  sequenceIndent: number;
  /** Columns from a '-' to the first key of the map it holds (2 for `- name: a`). */
  itemKeyOffset: number;
}

/** Collects byte splices over the original text; positions come from the parsed nodes' source ranges. */
class SourceEditor {
  private readonly splices: Splice[] = [];

  constructor(private readonly source: string) {}

  result(): string {
    try {
      return applySplices(this.source, this.splices);
    } catch (error) {
      throw invalid('refusing to write: the edits to this kustomization overlap', error);
    }
  }

  private splice(start: number, end: number, text: string): void {
    this.splices.push({ start, end, text });
  }

  replaceValue(pair: Pair, text: string): void {
    const value = pair.value;
    if (isScalar(value) && (value.type === 'BLOCK_LITERAL' || value.type === 'BLOCK_FOLDED')) {
      throw invalid('refusing to edit a block scalar (| or >) image value');
    }
    if (isScalar(value) && value.range && value.range[1] > value.range[0]) {
      this.splice(value.range[0], value.range[1], text);
      return;
    }
    // `newTag:` with nothing after it: write right after the ':' so a comment further on the line stays a comment.
    const colon = valueIndicator(pair);
    if (colon !== undefined) this.splice(colon + 1, colon + 1, ` ${text}`);
    else this.splice(keyEnd(pair), keyEnd(pair), `: ${text}`);
  }

  /** Drops a pair with its whole line (and inline comment); comments on other lines stay. */
  removePair(map: YAMLMap, pair: Pair): void {
    const start = keyStart(pair);
    const index = map.items.indexOf(pair);
    if (map.flow) {
      const previous = map.items[index - 1];
      const next = map.items[index + 1];
      if (previous !== undefined) this.splice(pairEnd(previous), pairEnd(pair), '');
      else if (next !== undefined) this.splice(start, keyStart(next), '');
      else throw invalid('refusing to remove the only key of an images entry');
      return;
    }
    const lineStart = lineStartOf(this.source, start);
    const newline = lineBreakAfter(this.source, pairEnd(pair));
    if (/^[ \t]*$/.test(this.source.slice(lineStart, start))) {
      if (newline >= 0) {
        this.splice(lineStart, newline + 1, '');
      } else {
        // Last line of a file without a final newline: take the previous line break instead, so it still has none.
        const breakStart = lineStart >= 2 && this.source[lineStart - 2] === '\r' ? lineStart - 2 : lineStart - 1;
        this.splice(Math.max(0, breakStart), this.source.length, '');
      }
      return;
    }
    // The pair shares its line with the '- ' of the entry: pull the next line's content up onto it.
    const next = map.items[index + 1];
    if (newline < 0 || next === undefined) throw invalid('refusing to remove the last key on a sequence item line');
    let content = newline + 1;
    while (content < this.source.length && /[ \t\r\n]/.test(this.source[content] ?? '')) content++;
    if (content > keyStart(next)) throw invalid('refusing to write: cannot find the next key of the images entry');
    this.splice(start, content, '');
  }

  /** Puts `text` (a whole `key: value`) where the pair was, dropping the old value and its inline comment. */
  replacePair(map: YAMLMap, pair: Pair, text: string): void {
    const end = map.flow ? pairEnd(pair) : lineContentEnd(this.source, pairEnd(pair));
    this.splice(keyStart(pair), end, text);
  }

  /** Adds `key: value` pairs (`texts`) after the map's last pair, in its own style. */
  addPairs(map: YAMLMap, texts: readonly string[]): void {
    const last = map.items.at(-1);
    const first = map.items[0];
    if (last === undefined || first === undefined) throw invalid('refusing to edit an empty images entry');
    if (map.flow) {
      this.splice(pairEnd(last), pairEnd(last), texts.map((text) => `, ${text}`).join(''));
      return;
    }
    const indent = columnOf(this.source, keyStart(first));
    this.splices.push(insertLinesAfter(this.source, pairEnd(last), texts.map((text) => spaces(indent) + text)));
  }

  appendItem(seq: YAMLSeq, fields: readonly string[], flowEntry: string): void {
    const last = seq.items.at(-1);
    if (last === undefined) throw invalid('refusing to append to an empty images sequence');
    if (seq.flow) {
      const end = nodeEnd(last);
      this.splice(end, end, `, ${flowEntry}`);
      return;
    }
    const dashes = sequenceDashes(seq);
    const dash = dashes.at(-1);
    if (dash === undefined) throw invalid('refusing to write: cannot find the images sequence indicators');
    const dashColumn = columnOf(this.source, dash);
    const allFlow = seq.items.every((item) => isMap(item) && item.flow);
    const lines = allFlow
      ? [`${spaces(dashColumn)}- ${flowEntry}`]
      : blockEntryLines(fields, dashColumn, itemKeyOffsetOf(this.source, seq) ?? 2);
    this.splices.push(insertLinesAfter(this.source, nodeEnd(last), lines));
  }

  /** `images:`, `images: ~` or `images: []`: give it its first entry. */
  fillEmptyImages(root: YAMLMap, pair: Pair, fields: readonly string[], flowEntry: string): void {
    const value = pair.value as YamlNode | null;
    const range = value?.range && value.range[1] > value.range[0] ? value.range : undefined;
    if (root.flow) {
      if (range && isSeq(value)) this.splice(range[0] + 1, range[0] + 1, flowEntry);
      else if (range) this.splice(range[0], range[1], `[${flowEntry}]`);
      else this.replaceValue(pair, `[${flowEntry}]`);
      return;
    }
    const colon = valueIndicator(pair);
    if (colon === undefined) throw invalid('refusing to write: cannot find the images key indicator');
    let end = colon + 1;
    if (range) {
      // Drop ` []` / ` ~` but keep whatever follows on the line (a comment stays after `images:`).
      end = range[1];
      this.splice(colon + 1, end, '');
    }
    const style = this.indentStyle(root);
    const keyColumn = columnOf(this.source, keyStart(pair));
    this.splices.push(
      insertLinesAfter(this.source, end, blockEntryLines(fields, keyColumn + style.sequenceIndent, style.itemKeyOffset)),
    );
  }

  addRootPair(root: YAMLMap, key: string, fields: readonly string[], flowEntry: string): void {
    const last = root.items.at(-1);
    const first = root.items[0];
    if (root.flow) {
      if (last === undefined) {
        const open = root.range?.[0];
        if (open === undefined) throw invalid('refusing to write: cannot locate the top-level map');
        this.splice(open + 1, open + 1, `${key}: [${flowEntry}]`);
      } else {
        this.splice(pairEnd(last), pairEnd(last), `, ${key}: [${flowEntry}]`);
      }
      return;
    }
    if (last === undefined || first === undefined) throw invalid('kustomization top level is an empty map');
    const keyColumn = columnOf(this.source, keyStart(first));
    const style = this.indentStyle(root);
    const lines = [`${spaces(keyColumn)}${key}:`, ...blockEntryLines(fields, keyColumn + style.sequenceIndent, style.itemKeyOffset)];
    this.splices.push(insertLinesAfter(this.source, pairEnd(last), lines));
  }

  /** The file's own habits, read from its other top-level block sequences (kustomize's style when it has none). */
  private indentStyle(root: YAMLMap): IndentStyle {
    let sequenceIndent: number | undefined;
    let itemKeyOffset: number | undefined;
    for (const pair of root.items) {
      const value = pair.value;
      if (!isSeq(value) || value.flow) continue;
      const dash = sequenceDashes(value)[0];
      if (dash !== undefined && sequenceIndent === undefined) {
        sequenceIndent = columnOf(this.source, dash) - columnOf(this.source, keyStart(pair));
      }
      itemKeyOffset ??= itemKeyOffsetOf(this.source, value);
    }
    return { sequenceIndent: Math.max(0, sequenceIndent ?? 0), itemKeyOffset: itemKeyOffset ?? 2 };
  }
}

/** How far the first key of a block map item sits from its '-', when they share a line. */
function itemKeyOffsetOf(source: string, seq: YAMLSeq): number | undefined {
  const dashes = sequenceDashes(seq);
  for (const [index, item] of seq.items.entries()) {
    const dash = dashes[index];
    if (dash === undefined || !isMap(item) || item.flow) continue;
    const first = item.items[0];
    if (first === undefined) continue;
    const start = keyStart(first);
    if (lineStartOf(source, start) === lineStartOf(source, dash) && start - dash >= 2) return start - dash;
  }
  return undefined;
}

function blockEntryLines(fields: readonly string[], dashColumn: number, keyOffset: number): string[] {
  return fields.map((field, index) =>
    index === 0 ? `${spaces(dashColumn)}-${spaces(keyOffset - 1)}${field}` : `${spaces(dashColumn + keyOffset)}${field}`,
  );
}

/** Offsets of each item's '-' in a block sequence, from the CST kept on the node. */
function sequenceDashes(seq: YAMLSeq): number[] {
  const token = seq.srcToken;
  if (token?.type !== 'block-seq') return [];
  return token.items.map((item) => item.start.find((t: CST.SourceToken) => t.type === 'seq-item-ind')?.offset ?? -1).filter((o) => o >= 0);
}

function collectionItem(pair: Pair): CST.CollectionItem | undefined {
  return (pair as Pair & { srcToken?: CST.CollectionItem }).srcToken;
}

function valueIndicator(pair: Pair): number | undefined {
  const item = collectionItem(pair);
  const sep = item?.sep ?? [];
  return sep.find((token) => token.type === 'map-value-ind')?.offset;
}

function keyStart(pair: Pair): number {
  const item = collectionItem(pair);
  if (item?.start.some((token) => token.type === 'explicit-key-ind')) {
    throw invalid('refusing to edit a map written with explicit keys (? key)');
  }
  const key = pair.key;
  if (!isScalar(key) || !key.range) throw invalid('refusing to edit a map with a non-scalar key');
  return key.range[0];
}

function keyEnd(pair: Pair): number {
  const key = pair.key as YamlNode;
  if (!key.range) throw invalid('refusing to write: a key has no source position');
  return key.range[1];
}

/** End of the last source character of a pair's value (or of its ':' when the value is empty). */
function pairEnd(pair: Pair): number {
  const value = pair.value as YamlNode | null;
  if (value !== null && value.range && !(isScalar(value) && value.range[1] === value.range[0])) return nodeEnd(value);
  const colon = valueIndicator(pair);
  return colon !== undefined ? colon + 1 : keyEnd(pair);
}

function nodeEnd(node: unknown): number {
  if (isPair(node)) return pairEnd(node);
  if (isCollection(node) && !node.flow) {
    const last = node.items.at(-1);
    if (last !== undefined) return nodeEnd(last);
  }
  const range = (node as YamlNode).range;
  if (!range) throw invalid('refusing to write: a node has no source position');
  return range[1];
}

/**
 * Re-reads the edited text and compares it with the original: the target entry must hold exactly the desired
 * values and everything else (other entries, other keys, line endings) must be as it was.
 */
function verifyEdit(
  original: string,
  parsed: ParsedKustomization,
  result: string,
  index: number | undefined,
  desired: ImageEntry,
  values: Values,
): { entry: ImageEntry; reparsed: ParsedKustomization } {
  const refuse = (reason: string, cause?: unknown): HoistError =>
    invalid(`refusing to write: edit would change more than the image (${reason})`, cause);
  let reparsed: ParsedKustomization;
  try {
    reparsed = parseKustomization(result);
  } catch (error) {
    throw refuse(`the result does not parse: ${error instanceof Error ? error.message : String(error)}`, error);
  }
  const expected = parsed.entries.map((entry) => entry.entry);
  const targetIndex = index ?? expected.length;
  expected[targetIndex] = desired;
  const actual = reparsed.entries.map((entry) => entry.entry);
  if (!isDeepStrictEqual(actual, expected)) throw refuse('images entries differ from the intended ones');

  let before: unknown;
  let after: unknown;
  try {
    // Both parses passed checkDocument: their aliases expand within the bound, never to a bomb.
    before = parsed.doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
    after = reparsed.doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (error) {
    throw refuse('cannot compare documents', error);
  }
  const beforeImages = imagesOf(before);
  const afterImages = imagesOf(after);
  if (!Array.isArray(afterImages)) throw refuse('images is missing');
  const expectedImages: unknown[] = Array.isArray(beforeImages) ? [...beforeImages] : [];
  const target: Record<string, unknown> = { ...(expectedImages[targetIndex] as Record<string, unknown> | undefined), name: desired.name };
  expectedImages[targetIndex] = withValues(target, values);
  if (!isDeepStrictEqual(afterImages, expectedImages)) throw refuse('images values differ from the intended ones');
  if (!isDeepStrictEqual(withoutImages(before), withoutImages(after))) throw refuse('other keys changed');
  if (isAllCrlf(original) && !isAllCrlf(result)) throw refuse('line endings changed');

  const entry = actual[targetIndex];
  if (entry === undefined) throw refuse('the edited entry is missing');
  return { entry, reparsed };
}

function imagesOf(root: unknown): unknown {
  return root !== null && typeof root === 'object' ? (root as Record<string, unknown>).images : undefined;
}

function withoutImages(root: unknown): unknown {
  if (root === null || typeof root !== 'object') return root;
  const copy = { ...(root as Record<string, unknown>) };
  delete copy.images;
  return copy;
}
