import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createImageEditor, readImages, setImage } from './editor.js';
import type { ImageChange, ImageEntry } from './editor.js';

// Properties every edit must have, checked over every sample in test/fixtures/kustomize (see its README).
const DIR = new URL('../../test/fixtures/kustomize/', import.meta.url);
const FIXTURES = readdirSync(DIR)
  .filter((name) => name.endsWith('.yaml'))
  .sort();

/** Lines that differ between two texts, after dropping the common leading and trailing lines. */
function lineDiff(before: string, after: string): { removed: string[]; added: string[] } {
  const a = before.split('\n');
  const b = after.split('\n');
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  return { removed: a.slice(head, a.length - tail), added: b.slice(head, b.length - tail) };
}

function expectedEntries(entries: ImageEntry[], change: ImageChange): ImageEntry[] {
  const index = entries.findIndex((entry) => entry.name === change.name);
  const target: ImageEntry = { ...entries[index], name: change.name };
  if ('tag' in change) {
    target.newTag = change.tag;
    delete target.digest;
  } else {
    target.digest = change.digest;
    delete target.newTag;
  }
  const result = [...entries];
  result[index < 0 ? result.length : index] = target;
  return result;
}

const DIGEST = `sha256:${'c'.repeat(64)}`;
const EDITED_LINE = /^\s*(?:- )?(?:\{.*|.*\[\{.*|(?:newTag|digest): .*|images: .*)$/;

describe.each(FIXTURES)('%s', (file) => {
  const text = readFileSync(new URL(file, DIR), 'utf8');
  const entries = readImages(text);
  const unique = entries.map((e) => e.name).filter((name, _i, all) => all.indexOf(name) === all.lastIndexOf(name));
  const changes: ImageChange[] = [
    ...unique.flatMap((name): ImageChange[] => [
      { name, tag: '9.9.9-hoist' },
      { name, digest: DIGEST },
    ]),
    { name: 'hoist.example:5000/team/new-image', tag: '0100' },
  ];

  it.each(changes.map((change) => [JSON.stringify(change), change] as const))('%s changes only that image', (_label, change) => {
    const result = setImage(text, change);
    expect(result.changed).toBe(true);
    expect(readImages(result.text)).toEqual(expectedEntries(entries, change));
    const { removed, added } = lineDiff(text, result.text);
    for (const line of removed) expect(line).toMatch(EDITED_LINE);
    for (const line of added) expect(line).toMatch(/newTag: "|digest: "|name: hoist\.example|^\s*images:|^- \{|\{name: hoist/);
    expect(added.length).toBeLessThanOrEqual(removed.length + 3);
  });

  it('gives the same edits to its CRLF and no-final-newline variants', () => {
    const crlf = text.replace(/\r?\n/g, '\r\n');
    const chopped = text.replace(/\r?\n$/, '');
    for (const change of changes) {
      const lf = setImage(text, change).text;
      expect(setImage(crlf, change).text).toBe(lf.replace(/\r?\n/g, '\r\n'));
      if (chopped !== text) expect(setImage(chopped, change).text).toBe(lf.replace(/\r?\n$/, ''));
    }
  });

  it('is unchanged when set to what it already has, if written safely', () => {
    for (const name of unique) {
      const entry = entries.find((e) => e.name === name);
      if (entry?.newTag === undefined || entry.digest !== undefined) continue;
      const once = setImage(text, { name, tag: entry.newTag });
      const twice = setImage(once.text, { name, tag: entry.newTag });
      expect(twice).toEqual({ changed: false, text: once.text, entry: { ...entry } });
    }
  });
});

// The remembering editor replaces values in texts it wrote without parsing them again: it must write exactly
// what setImage writes, edit after edit, including refusals and "unchanged" answers.
describe.each(FIXTURES)('%s through a remembering editor', (file) => {
  const text = readFileSync(new URL(file, DIR), 'utf8');
  const names = [...new Set(readImages(text).map((e) => e.name)), 'hoist.example:5000/team/new-image'];
  const steps: ImageChange[] = names.flatMap((name): ImageChange[] => [
    { name, tag: '9.9.9-hoist' },
    { name, tag: '1.10' },
    { name, tag: '1.10' },
    { name, digest: DIGEST },
    { name, tag: 'v2' },
  ]);

  it('writes byte for byte what setImage writes, and answers the same', () => {
    const editor = createImageEditor();
    let plain = text;
    let remembered = text;
    for (const change of steps) {
      const outcome = (edit: () => ReturnType<typeof setImage>) => {
        try {
          return edit();
        } catch (error) {
          return { refused: (error as Error).message };
        }
      };
      const expected = outcome(() => setImage(plain, change));
      const actual = outcome(() => editor.setImage(remembered, change));
      expect(actual, JSON.stringify(change)).toEqual(expected);
      if ('text' in expected && 'text' in actual) {
        plain = expected.text;
        remembered = actual.text;
      }
    }
  });
});
