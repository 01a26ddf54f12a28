import { createHmac } from 'node:crypto';
import { Composer, CST, isMap, isScalar, isSeq } from 'yaml';
import type { Document, Node as YamlNode, YAMLMap } from 'yaml';
import { HoistError } from '../errors.js';
import { MAX_YAML_ALIASES, checkDocument, yamlTokens } from './bounded-yaml.js';
import { applySplices, type Splice } from './source-text.js';

const SECRET_FIELDS = new Set(['data', 'stringData']);

/**
 * The rendered output with every value under `data` and `stringData` of each `kind: Secret` (also inside a
 * `kind: List`) replaced by `<redacted hmac-sha256:…>`, a keyed hash of the value: the same value under the
 * same key hashes the same, so a diff still shows which entries changed, and without the key nobody can test
 * a guess against it. Keys stay visible; every byte outside those values, and every other document, stays.
 */
export async function redactSecrets(rendered: string, key: Uint8Array): Promise<string> {
  const splices: Splice[] = [];
  const redact = (doc: Document.Parsed, map: YAMLMap): void => {
    for (const field of map.items) {
      if (!isScalar(field.key) || !SECRET_FIELDS.has(String(field.key.value))) continue;
      const value = field.value as YamlNode | null;
      if (isMap(value)) {
        for (const entry of value.items) redactValue(doc, entry.value as YamlNode | null);
      } else {
        redactValue(doc, value); // an alias, or something kubectl would refuse: hide it whole
      }
    }
  };
  const redactValue = (doc: Document.Parsed, node: YamlNode | null): void => {
    if (!node?.range) return;
    const start = node.range[0];
    let end = node.range[1];
    // A block scalar's range takes its final line breaks; they stay, so the next line stays where it was.
    while (end > start && (rendered[end - 1] === '\n' || rendered[end - 1] === '\r')) end--;
    if (end <= start) return;
    const value: unknown = node.toJS(doc, { maxAliasCount: MAX_YAML_ALIASES });
    const hash = createHmac('sha256', key)
      .update(typeof value === 'string' ? value : JSON.stringify(value) ?? '')
      .digest('hex')
      .slice(0, 16);
    splices.push({ start, end, text: `<redacted hmac-sha256:${hash}>` });
  };
  const visitResource = (doc: Document.Parsed, node: unknown): void => {
    if (!isMap(node)) return;
    const kinds = kindsOf(node);
    if (kinds.includes('Secret')) redact(doc, node);
    if (!kinds.some((kind) => kind.endsWith('List'))) return;
    for (const field of node.items) {
      if (isScalar(field.key) && field.key.value === 'items' && isSeq(field.value)) for (const item of field.value.items) visitResource(doc, item);
    }
  };
  // Output it cannot read is not shown at all: what it cannot parse, it cannot promise to have redacted.
  const fail = (reason: string, cause?: unknown): HoistError =>
    new HoistError('render_failed', `cannot redact Secrets in the rendered output: it is not valid YAML: ${reason}`, { retryable: false, cause });
  for await (const token of yamlTokens(rendered)) {
    if (token.type === 'error') throw fail(token.message);
    if (token.type !== 'document' || !mayHoldSecret(token)) continue;
    // One composer per document: only documents that may be Secrets are composed at all.
    const composer = new Composer({ uniqueKeys: false });
    for (const doc of [...composer.next(token), ...composer.end()]) {
      const error = doc.errors[0];
      if (error) throw fail(error.message, error);
      checkDocument(doc, rendered, fail);
      visitResource(doc, doc.contents);
    }
  }
  return applySplices(rendered, splices);
}

function kindsOf(map: YAMLMap): string[] {
  // Every `kind` a map says it has: with a duplicate key, whichever one counts is redacted.
  return map.items.flatMap((pair) => (isScalar(pair.key) && pair.key.value === 'kind' && isScalar(pair.value) ? [String(pair.value.value)] : []));
}

/**
 * False only for a document that is plainly not a Secret: a block map whose `kind` keys all read as plain
 * words other than Secret and *List. Anything else (a flow map, an alias, no kind at all) is composed and looked at.
 */
function mayHoldSecret(token: CST.Document): boolean {
  const value = token.value;
  if (value?.type !== 'block-map') return true;
  const kinds = value.items.flatMap((item) => {
    const keyText = item.key && CST.isScalar(item.key) ? CST.resolveAsScalar(item.key)?.value : undefined;
    if (keyText !== 'kind') return [];
    return [item.value && CST.isScalar(item.value) ? CST.resolveAsScalar(item.value)?.value : undefined];
  });
  if (kinds.length === 0) return false;
  return kinds.some((kind) => kind === undefined || kind === 'Secret' || kind.endsWith('List'));
}
