import { setImmediate as nextTurn } from 'node:timers/promises';
import { isAlias, isMap, isScalar, Lexer, Parser, visit } from 'yaml';
import type { Alias, CST, Document, Node as YamlNode } from 'yaml';

/**
 * How far aliases may reach in YAML Hoist did not write (the yaml package's own default for `toJS`). A
 * kustomization has no need for more, and more is how "billion laughs" files (aliases of aliases, each
 * level multiplying the last) turn a few hundred bytes into gigabytes.
 */
export const MAX_YAML_ALIASES = 100;

/** How long one stretch of YAML work may hold the event loop before it lets other work run. */
const SLICE_MS = 20;

export type AliasTargets = ReadonlyMap<Alias, YamlNode | undefined>;

const NO_ALIASES: AliasTargets = new Map();

/**
 * Checks one composed document against the alias bounds and returns where each alias points. yaml's own
 * `Alias.resolve` walks the whole document for every alias; this is one pass, in the same (document) order:
 * an alias means the last node with its anchor before it. `fail` turns a reason into the caller's error.
 * `uniqueKeys` also refuses a map with a key twice, in linear time (yaml's check compares every pair).
 */
export function checkDocument(
  doc: Document.Parsed,
  source: string,
  fail: (reason: string, cause?: unknown) => Error,
  options: { uniqueKeys?: boolean } = {},
): AliasTargets {
  const [start, , end] = doc.range;
  // An alias cannot be written without '*': most documents skip the walk. (Searched within the document only:
  // a search to the next '*' in the whole text would make many documents quadratic.)
  const mayAlias = source.slice(start, end).includes('*');
  if (!mayAlias && !options.uniqueKeys) return NO_ALIASES;
  const targets = new Map<Alias, YamlNode | undefined>();
  const anchors = new Map<string, YamlNode>();
  visit(doc, {
    Node(_key, node) {
      if (isAlias(node)) {
        if (targets.size >= MAX_YAML_ALIASES) throw fail(`it has more than ${MAX_YAML_ALIASES} YAML aliases`);
        targets.set(node, anchors.get(node.source));
        return;
      }
      if (node.anchor) anchors.set(node.anchor, node);
      if (options.uniqueKeys && isMap(node)) {
        const seen = new Set<unknown>();
        for (const pair of node.items) {
          if (!isScalar(pair.key)) continue;
          if (seen.has(pair.key.value)) {
            const at = pair.key.range ? ` (line ${lineOf(source, pair.key.range[0])})` : '';
            throw fail(`map keys must be unique: ${JSON.stringify(pair.key.value)} appears twice${at}`);
          }
          seen.add(pair.key.value);
        }
      }
    },
  });
  if (targets.size > 0) {
    // Bounded expansion: yaml counts how many nodes each anchor reaches through aliases and stops past the bound.
    try {
      doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw /excessive alias count/i.test(message)
        ? fail(`its YAML aliases expand beyond ${MAX_YAML_ALIASES} nodes (a "billion laughs" file)`, error)
        : fail(`its YAML aliases cannot be resolved: ${message}`, error);
    }
  }
  return targets;
}

function lineOf(source: string, offset: number): number {
  let line = 1;
  for (let at = source.indexOf('\n'); at >= 0 && at < offset; at = source.indexOf('\n', at + 1)) line++;
  return line;
}

/**
 * The top-level CST tokens of a YAML stream (documents, comments, errors), lexed and parsed lazily and
 * handing the event loop a turn every few milliseconds of work, including the caller's work between tokens:
 * a 64 MiB render is read without holding up requests. Feed them to a `Composer`.
 */
export async function* yamlTokens(source: string): AsyncGenerator<CST.Token> {
  const parser = new Parser();
  let since = performance.now();
  let count = 0;
  const due = (): boolean => performance.now() - since >= SLICE_MS;
  for (const lexeme of new Lexer().lex(source, false)) {
    for (const token of parser.next(lexeme)) {
      yield token;
      if (due()) {
        await nextTurn();
        since = performance.now();
      }
    }
    if ((++count & 255) === 0 && due()) {
      await nextTurn();
      since = performance.now();
    }
  }
  yield* parser.end();
}
