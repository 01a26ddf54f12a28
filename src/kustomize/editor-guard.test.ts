import { describe, expect, it, vi } from 'vitest';
import { HoistError } from '../errors.js';
import type * as SourceText from './source-text.js';

// Stands in for a bug in the splicing: the verification after every edit must catch whatever it produced.
const state = vi.hoisted(() => ({ corrupt: undefined as ((text: string) => string) | undefined }));

vi.mock('./source-text.js', async (importOriginal) => {
  const original = await importOriginal<typeof SourceText>();
  return {
    ...original,
    applySplices: (...args: Parameters<typeof original.applySplices>) => {
      const text = original.applySplices(...args);
      return state.corrupt ? state.corrupt(text) : text;
    },
  };
});

const { setImage } = await import('./editor.js');

const FILE = 'resources:\n- ../base\nimages:\n- name: a\n  newTag: v1\n- name: b\n  newTag: v1\n';

function refusal(corrupt: (text: string) => string, text = FILE): HoistError | undefined {
  state.corrupt = corrupt;
  try {
    setImage(text, { name: 'a', tag: '1.10' });
    return undefined;
  } catch (error) {
    if (error instanceof HoistError) return error;
    throw error;
  } finally {
    state.corrupt = undefined;
  }
}

describe('setImage verifies its own output', () => {
  it('returns the edit when the splice is right', () => {
    expect(setImage(FILE, { name: 'a', tag: '1.10' })).toMatchObject({ changed: true, text: FILE.replace('v1', '"1.10"') });
  });

  it.each([
    ['another key changed', (text: string) => text.replace('../base', '../other')],
    ['a key added', (text: string) => `${text}namePrefix: x-\n`],
    ['another entry changed', (text: string) => text.replace('name: b\n  newTag: v1', 'name: b\n  newTag: v2')],
    ['an entry duplicated', (text: string) => `${text}- name: b\n  newTag: v1\n`],
    ['the tag written unquoted (1.10 would be 1.1)', (text: string) => text.replace('"1.10"', '1.10')],
    ['the target value wrong', (text: string) => text.replace('"1.10"', '"1.11"')],
    ['invalid YAML', (text: string) => `${text}  - [\n`],
    ['a second document', (text: string) => `${text}---\nkind: x\n`],
  ])('refuses to write when %s', (_label, corrupt) => {
    const error = refusal(corrupt);
    expect(error?.code).toBe('kustomization_invalid');
    expect(error?.message).toMatch(/refusing to write: edit would change more than the image/);
  });

  it('refuses to write when a CRLF file gets a bare LF', () => {
    const crlf = FILE.replace(/\n/g, '\r\n');
    const error = refusal((text) => text.replace('\r\n', '\n'), crlf);
    expect(error?.message).toMatch(/line endings/);
  });
});
