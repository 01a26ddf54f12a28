import { describe, expect, it } from 'vitest';
import { HoistError } from '../errors.js';
import { createImageEditor, readImages, setImage } from './editor.js';
import { MAX_KUSTOMIZATION_BYTES, MAX_KUSTOMIZATION_TOKENS, kustomizationData } from './kustomization.js';
import { findRenderedImages } from './render.js';

// Kustomization files come from the GitOps repo, which anyone with push access (or a merged MR) controls:
// every read of one is bounded in size, in tokens and in alias expansion, and refuses with a reason.

const MIB = 1024 * 1024;
const WEB = 'registry.example.com/group/web';

function refusal(read: () => unknown): HoistError {
  try {
    read();
  } catch (error) {
    if (error instanceof HoistError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

/** A kustomization that looks like a real one, padded with more image entries up to `bytes`. */
function kustomizationOf(bytes: number): string {
  let text = `resources:\n  - ../../base\nimages:\n  - name: ${WEB}\n    newTag: "1.0.0"\n`;
  const entry = (i: number) => `  - name: registry.example.com/group/app-${i}\n    newTag: "1.0.${i}"\n`;
  for (let i = 0; text.length < bytes; i++) text += entry(i);
  return text;
}

/** The "billion laughs" file: nine levels of ten aliases each, about 10^9 nodes once expanded, in 1 KB. */
function billionLaughs(): string {
  const levels = ['lol0: &lol0 lol'];
  for (let level = 1; level <= 9; level++) levels.push(`lol${level}: &lol${level} [${Array(10).fill(`*lol${level - 1}`).join(', ')}]`);
  return `${levels.join('\n')}\nimages:\n  - name: ${WEB}\n    newTag: "1.0.0"\n`;
}

describe('a kustomization larger than Hoist reads', () => {
  it.each([
    [3, /^kustomization is 3 MiB; Hoist reads kustomization files of at most 512 KiB$/],
    [20, /^kustomization is 20 MiB; Hoist reads kustomization files of at most 512 KiB$/],
  ])('%i MiB is refused before it is parsed, naming its size and the limit', (mib, reason) => {
    const text = kustomizationOf(mib * MIB);
    for (const read of [() => setImage(text, { name: WEB, tag: 'v2' }), () => readImages(text), () => createImageEditor().setImage(text, { name: WEB, tag: 'v2' }), () => kustomizationData(text)]) {
      const error = refusal(read);
      expect(error.code).toBe('kustomization_invalid');
      expect(error.retryable).toBe(false);
      expect(error.message).toMatch(reason);
    }
  });

  it('a file just past the limit says so in bytes; one at the limit is read', () => {
    const atLimit = `${kustomizationOf(0)}# ${'x'.repeat(MAX_KUSTOMIZATION_BYTES)}`.slice(0, MAX_KUSTOMIZATION_BYTES - 1) + '\n';
    expect(Buffer.byteLength(atLimit)).toBe(MAX_KUSTOMIZATION_BYTES);
    expect(readImages(atLimit)[0]).toEqual({ name: WEB, newTag: '1.0.0' });
    const error = refusal(() => readImages(`${atLimit} `));
    expect(error.message).toBe(`kustomization is ${MAX_KUSTOMIZATION_BYTES + 1} bytes; Hoist reads kustomization files of at most ${MAX_KUSTOMIZATION_BYTES} bytes`);
  });

  it('counts bytes, not characters: multi-byte text cannot slip under the limit', () => {
    const text = `images: []\n# ${'é'.repeat(MAX_KUSTOMIZATION_BYTES / 2)}\n`;
    expect(text.length).toBeLessThan(MAX_KUSTOMIZATION_BYTES);
    expect(refusal(() => readImages(text)).message).toMatch(/^kustomization is \d+ bytes; Hoist reads kustomization files of at most 524288 bytes$/);
  });

  it('a dense file under the byte limit but over the token limit is refused by the token bound', () => {
    const text = `images:\n  - name: ${WEB}\n    newTag: "1"\nresources: [${Array(MAX_KUSTOMIZATION_TOKENS).fill('a').join(',')}]\n`;
    expect(text.length).toBeLessThan(MAX_KUSTOMIZATION_BYTES);
    const error = refusal(() => setImage(text, { name: WEB, tag: 'v2' }));
    expect(error.code).toBe('kustomization_invalid');
    expect(error.message).toBe('kustomization has more than 25,000 YAML tokens; Hoist reads kustomization files of at most that many');
  });

  it('a realistic 1,000-entry kustomization is well inside both bounds and still edited', () => {
    const text = kustomizationOf(0);
    const big = text + Array.from({ length: 1_000 }, (_, i) => `  - name: registry.example.com/group/app-${i}\n    newTag: "1.0.${i}"\n`).join('');
    expect(big.length).toBeGreaterThan(55_000);
    const result = setImage(big, { name: 'registry.example.com/group/app-999', tag: 'v2' });
    expect(result.changed).toBe(true);
    expect(readImages(result.text)[1_000]).toEqual({ name: 'registry.example.com/group/app-999', newTag: 'v2' });
  });
});

describe('YAML aliases in a kustomization', () => {
  it('a "billion laughs" file is refused at once, by every reader, with the alias reason', () => {
    const text = billionLaughs();
    for (const read of [() => setImage(text, { name: WEB, tag: 'v2' }), () => readImages(text), () => kustomizationData(text)]) {
      const error = refusal(read);
      expect(error.code).toBe('kustomization_invalid');
      expect(error.message).toBe('kustomization is not valid YAML: its YAML aliases expand beyond 100 nodes (a "billion laughs" file)');
    }
  });

  it('more aliases than the bound are refused before anything resolves them', () => {
    const text = `base: &b x\nlabels: [${Array(101).fill('*b').join(', ')}]\nimages: []\n`;
    expect(refusal(() => readImages(text)).message).toBe('kustomization is not valid YAML: it has more than 100 YAML aliases');
  });

  it('a few aliases that stay within the bound still read and edit', () => {
    const text = `common: &tag "1.0.0"\nimages:\n  - name: ${WEB}\n    newTag: *tag\n  - name: registry.example.com/group/api\n    newTag: "2"\n`;
    expect(readImages(text)).toEqual([
      { name: WEB, newTag: '1.0.0' },
      { name: 'registry.example.com/group/api', newTag: '2' },
    ]);
    const result = setImage(text, { name: 'registry.example.com/group/api', tag: 'v3' });
    expect(readImages(result.text)[1]).toEqual({ name: 'registry.example.com/group/api', newTag: 'v3' });
  });

  it('an alias pointing at its own anchor is read as YAML reads it, not followed forever', () => {
    const text = `loop: &l [*l]\nimages:\n  - name: ${WEB}\n    newTag: "1"\n`;
    expect(readImages(text)).toEqual([{ name: WEB, newTag: '1' }]);
  });

  it('a map with thousands of keys, one of them twice, is refused as YAML would refuse it', () => {
    const keys = Array.from({ length: 3_000 }, (_, i) => `  k${i}: v`);
    keys.push('  k17: again');
    const error = refusal(() => readImages(`labels:\n${keys.join('\n')}\nimages: []\n`));
    expect(error.message).toBe('kustomization is not valid YAML: map keys must be unique: "k17" appears twice (line 3002)');
  });

  it('nesting deeper than the stack is a refusal, not a crash', () => {
    const error = refusal(() => readImages(`x: ${'['.repeat(5_000)}${']'.repeat(5_000)}\nimages: []\n`));
    expect(error.code).toBe('kustomization_invalid');
    expect(error.message).toMatch(/^kustomization is not valid YAML: /);
  });
});

describe('YAML aliases in rendered output', () => {
  it('a "billion laughs" document in the output fails the render check with the alias reason', async () => {
    const bomb = billionLaughs().replace(/\nimages:[\s\S]*$/, '\n');
    const output = `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\ndata:\n${bomb.replace(/^/gm, '  ')}`;
    const error = await findRenderedImages(output).then(
      () => undefined,
      (e: unknown) => e as HoistError,
    );
    expect(error?.code).toBe('render_failed');
    expect(error?.message).toBe('kustomize output is not valid YAML: its YAML aliases expand beyond 100 nodes (a "billion laughs" file)');
  });
});
