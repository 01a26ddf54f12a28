import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { HoistError } from '../errors.js';
import { createImageEditor, isValidDigest, isValidTag, readImages, setImage } from './editor.js';
import type { EditResult, ImageChange } from './editor.js';

function fixture(name: string): string {
  return readFileSync(new URL(`../../test/fixtures/kustomize/${name}`, import.meta.url), 'utf8');
}

function changed(result: EditResult): string {
  expect(result.changed).toBe(true);
  return result.text;
}

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    if (error instanceof HoistError) return error.code;
    throw error;
  }
  return undefined;
}

function messageOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  return '';
}

const DIGEST_A = `sha256:${'a'.repeat(64)}`;
const DIGEST_B = `sha256:${'b'.repeat(64)}`;

describe('setImage on upstream kustomization files', () => {
  const docs = fixture('kustomize-docs-images.yaml');

  it('replaces a tag in place, double-quoted', () => {
    expect(changed(setImage(docs, { name: 'nginx', tag: '1.9.0' }))).toBe(docs.replace('newTag: 1.8.0', 'newTag: "1.9.0"'));
  });

  it('keeps newName when the tag changes', () => {
    const result = setImage(docs, { name: 'postgres', tag: 'v2' });
    expect(changed(result)).toBe(docs.replace('newTag: v1', 'newTag: "v2"'));
    expect(result).toMatchObject({
      before: { name: 'postgres', newName: 'my-registry/my-postgres', newTag: 'v1' },
      after: { name: 'postgres', newName: 'my-registry/my-postgres', newTag: 'v2' },
    });
  });

  it('swaps a digest for a tag on the same line', () => {
    const result = setImage(docs, { name: 'alpine', tag: '3.19' });
    expect(changed(result)).toBe(
      docs.replace('digest: sha256:24a0c4b4a4c0eb97a1aabb8e29f18e917d05abfe1b7a7c07857230879ce7d3d3', 'newTag: "3.19"'),
    );
    expect(result).toMatchObject({ after: { name: 'alpine', newTag: '3.19' } });
    expect(readImages(result.text).find((e) => e.name === 'alpine')).toEqual({ name: 'alpine', newTag: '3.19' });
  });

  it('swaps a tag for a digest, keeping newName', () => {
    expect(changed(setImage(docs, { name: 'postgres', digest: DIGEST_A }))).toBe(docs.replace('newTag: v1', `digest: "${DIGEST_A}"`));
  });

  it('replaces a digest with a digest', () => {
    expect(changed(setImage(docs, { name: 'alpine', digest: DIGEST_B }))).toBe(
      docs.replace('sha256:24a0c4b4a4c0eb97a1aabb8e29f18e917d05abfe1b7a7c07857230879ce7d3d3', `"${DIGEST_B}"`),
    );
  });

  it('adds newTag under an entry that only has newName', () => {
    expect(changed(setImage(docs, { name: 'my-demo-app', tag: 'v2' }))).toBe(
      docs.replace('  newName: my-app\n', '  newName: my-app\n  newTag: "v2"\n'),
    );
  });

  it('appends a new entry at the end of images', () => {
    const result = setImage(docs, { name: 'redis', tag: '7.2.4' });
    expect(changed(result)).toBe(`${docs}- name: redis\n  newTag: "7.2.4"\n`);
    expect(result).toMatchObject({ before: undefined, after: { name: 'redis', newTag: '7.2.4' } });
  });

  it('does not match an entry whose name merely starts with the requested name', () => {
    expect(changed(setImage(docs, { name: 'my-demo', tag: 'v1' }))).toBe(`${docs}- name: my-demo\n  newTag: "v1"\n`);
  });

  it('reports an unchanged result when the tag is already there', () => {
    expect(setImage(docs, { name: 'nginx', tag: '1.8.0' })).toEqual({
      changed: false,
      text: docs,
      entry: { name: 'nginx', newTag: '1.8.0' },
    });
    expect(setImage(docs, { name: 'alpine', digest: 'sha256:24a0c4b4a4c0eb97a1aabb8e29f18e917d05abfe1b7a7c07857230879ce7d3d3' }).changed).toBe(false);
  });

  it('creates images at the end of a file without it, after its leading comment and blank line (kustomize helloWorld)', () => {
    const hello = fixture('kustomize-hello-world.yaml');
    expect(changed(setImage(hello, { name: 'monopole/hello', tag: '1' }))).toBe(`${hello}images:\n- name: monopole/hello\n  newTag: "1"\n`);
  });

  it('edits the Argo CD base, with images before resources and two blank lines', () => {
    const argo = fixture('argo-cd-manifests-base.yaml');
    expect(changed(setImage(argo, { name: 'quay.io/argoproj/argocd', tag: 'v2.8.0' }))).toBe(
      argo.replace('newTag: v2.7.6', 'newTag: "v2.8.0"'),
    );
    expect(changed(setImage(argo, { name: 'ghcr.io/dexidp/dex', tag: 'v2.37.0' }))).toBe(
      argo.replace('  newTag: v2.7.6\n', '  newTag: v2.7.6\n- name: ghcr.io/dexidp/dex\n  newTag: "v2.37.0"\n'),
    );
  });

  it('keeps a missing final newline missing (a legacy `bases:` overlay)', () => {
    const dev = fixture('legacy-bases-no-final-newline.yaml');
    expect(dev.endsWith('\n')).toBe(false);
    const text = changed(setImage(dev, { name: 'gcr.io/heptio-images/ks-guestbook-demo', tag: '0.2' }));
    expect(text).toBe(`${dev}\nimages:\n- name: gcr.io/heptio-images/ks-guestbook-demo\n  newTag: "0.2"`);
    const again = changed(setImage(text, { name: 'gcr.io/heptio-images/ks-guestbook-demo', tag: '0.3' }));
    expect(again).toBe(text.replace('"0.2"', '"0.3"'));
    expect(changed(setImage(again, { name: 'gcr.io/heptio-images/ks-guestbook-demo', digest: DIGEST_A }))).toBe(
      again.replace('newTag: "0.3"', `digest: "${DIGEST_A}"`),
    );
  });

  it('adds images after the last top-level key even when keys are out of the usual order', () => {
    const guestbook = fixture('unusual-key-order.yaml');
    expect(changed(setImage(guestbook, { name: 'gcr.io/heptio-images/ks-guestbook-demo', tag: '0.2' }))).toBe(
      `${guestbook}images:\n- name: gcr.io/heptio-images/ks-guestbook-demo\n  newTag: "0.2"\n`,
    );
  });

  it('edits a kubeflow kustomization with mixed sequence indentation', () => {
    const kubeflow = fixture('kubeflow-oauth2-proxy.yaml');
    expect(changed(setImage(kubeflow, { name: 'quay.io/oauth2-proxy/oauth2-proxy', tag: 'v7.5.1' }))).toBe(
      kubeflow.replace('newTag: v7.4.0', 'newTag: "v7.5.1"'),
    );
    // The images sequence itself is not indented: the new entry follows it, not the `vars:` style.
    expect(changed(setImage(kubeflow, { name: 'gcr.io/arrikto/kubeflow/oidc-authservice', tag: '28c59ef' }))).toBe(
      `${kubeflow}- name: gcr.io/arrikto/kubeflow/oidc-authservice\n  newTag: "28c59ef"\n`,
    );
  });

  it('keeps Flux image policy markers (inline comments) on the edited line', () => {
    const flux = fixture('flux-image-policy-markers.yaml');
    const text = changed(setImage(flux, { name: 'ghcr.io/stefanprodan/podinfo', tag: '6.5.4' }));
    expect(text).toBe(flux.replace('newTag: 5.0.0 #', 'newTag: "6.5.4" #'));
    expect(text).toContain('newName: ghcr.io/stefanprodan/podinfo # {"$imagepolicy": "flux-system:podinfo:name"}');
  });

  it('rewrites a YAML 1.1 float tag (kustomize examples/image.md `newTag: 3.6`) even when the value is the same', () => {
    const example = fixture('kustomize-example-image.yaml');
    expect(readImages(example)).toEqual([{ name: 'busybox', newName: 'alpine', newTag: '3.6' }]);
    const result = setImage(example, { name: 'busybox', tag: '3.6' });
    expect(changed(result)).toBe(example.replace('newTag: 3.6', 'newTag: "3.6"'));
    expect(result).toMatchObject({ before: { newTag: '3.6' }, after: { newTag: '3.6' } });
    expect(setImage(result.text, { name: 'busybox', tag: '3.6' }).changed).toBe(false);
  });
});

describe('setImage keeps every other byte', () => {
  const commented = fixture('comments-everywhere.yaml');
  const web = 'registry.example.com:5000/group/web';
  const api = 'registry.example.com:5000/group/api';

  it('changes only the tag value on a line with an inline comment, keeping all other comments', () => {
    expect(changed(setImage(commented, { name: web, tag: 'v1.5.0' }))).toBe(
      commented.replace('newTag: v1.4.2 # promoted', 'newTag: "v1.5.0" # promoted'),
    );
  });

  it('matches a registry host with a port exactly, not the entry it prefixes', () => {
    const text = changed(setImage(commented, { name: `${web}-worker`, tag: 'v1.5.0' }));
    expect(text).toBe(commented.replace('web-worker\n    newTag: v1.4.2', 'web-worker\n    newTag: "v1.5.0"'));
    expect(readImages(text).find((e) => e.name === web)?.newTag).toBe('v1.4.2');
  });

  it('swaps a commented digest line for the tag and keeps the comment above the entry', () => {
    const text = changed(setImage(commented, { name: api, tag: 'v3.0.0' }));
    expect(text).toBe(
      commented.replace(
        'digest: sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef # pinned',
        'newTag: "v3.0.0"',
      ),
    );
    expect(text).toContain('  # The API, pinned by digest after an incident.\n');
  });

  it('replaces a tag with a digest by dropping the tag line and adding digest at the entry end', () => {
    const withBoth = commented.replace('    newTag: v1.4.2 # promoted 2024-05-01\n', `    newTag: v1.4.2 # promoted 2024-05-01\n    digest: ${DIGEST_A}\n`);
    expect(changed(setImage(withBoth, { name: web, digest: DIGEST_B }))).toBe(
      commented.replace('    newTag: v1.4.2 # promoted 2024-05-01\n', `    digest: "${DIGEST_B}"\n`),
    );
    expect(changed(setImage(withBoth, { name: web, tag: 'v1.4.3' }))).toBe(
      commented.replace('newTag: v1.4.2 # promoted', 'newTag: "v1.4.3" # promoted'),
    );
  });

  it('appends a new entry after the last one, before the next key, in the file indentation', () => {
    expect(changed(setImage(commented, { name: 'registry.example.com:5000/group/cron', tag: '2024.06' }))).toBe(
      commented.replace(
        '    newTag: v1.4.2\n\npatches:',
        '    newTag: v1.4.2\n  - name: registry.example.com:5000/group/cron\n    newTag: "2024.06"\n\npatches:',
      ),
    );
  });

  it('keeps an all-CRLF file all-CRLF, including added and removed lines', () => {
    const crlf = commented.replace(/\n/g, '\r\n');
    const cases: ImageChange[] = [
      { name: web, tag: 'v9' },
      { name: api, tag: 'v9' },
      { name: web, digest: DIGEST_A },
      { name: 'registry.example.com:5000/group/new', tag: 'v9' },
    ];
    for (const change of cases) {
      const text = changed(setImage(crlf, change));
      expect(text).toBe(changed(setImage(commented, change)).replace(/\n/g, '\r\n'));
      expect(text).not.toMatch(/[^\r]\n/);
    }
  });

  it('keeps a 4-space indented file in its indentation', () => {
    const four = fixture('four-space-indent.yaml');
    expect(changed(setImage(four, { name: 'ghcr.io/acme/billing', tag: '2024.06.0' }))).toBe(
      four.replace('newTag: 2024.05.1', 'newTag: "2024.06.0"'),
    );
    expect(changed(setImage(four, { name: 'ghcr.io/acme/ledger', tag: '2024.06.0' }))).toBe(
      `${four}      newTag: "2024.06.0"\n`,
    );
    expect(changed(setImage(four, { name: 'ghcr.io/acme/audit', tag: '1' }))).toBe(
      `${four}    - name: ghcr.io/acme/audit\n      newTag: "1"\n`,
    );
  });

  it('follows `-   key` item spacing', () => {
    const spaced = 'images:\n-   name: a\n    newTag: v1\n';
    expect(changed(setImage(spaced, { name: 'b', tag: 'v2' }))).toBe(`${spaced}-   name: b\n    newTag: "v2"\n`);
  });

  it('keeps `---`, a leading comment, and replaces a single-quoted tag', () => {
    const start = fixture('document-start.yaml');
    expect(changed(setImage(start, { name: 'shop/frontend', tag: '2.4.0' }))).toBe(start.replace("newTag: '2.3.0'", 'newTag: "2.4.0"'));
    expect(setImage(start, { name: 'shop/frontend', tag: '2.3.0' }).changed).toBe(false);
  });

  it('keeps a document end marker and comments after it', () => {
    const text = 'images:\n- name: a\n  newTag: v1\n...\n# trailer\n';
    expect(changed(setImage(text, { name: 'a', tag: 'v2' }))).toBe(text.replace('v1', '"v2"'));
  });

  it('edits inside a flow sequence of flow maps and appends as a flow item', () => {
    const flow = fixture('flow-style.yaml');
    expect(changed(setImage(flow, { name: 'nginx', tag: '1.26.0' }))).toBe(flow.replace('newTag: 1.25.3', 'newTag: "1.26.0"'));
    expect(changed(setImage(flow, { name: 'redis', digest: DIGEST_A }))).toBe(flow.replace('newTag: "7.2"', `digest: "${DIGEST_A}"`));
    expect(changed(setImage(flow, { name: 'memcached', tag: '1.6' }))).toBe(
      flow.replace('"7.2"}]', '"7.2"}, {name: memcached, newTag: "1.6"}]'),
    );
  });

  it('edits flow-map items of a block sequence and appends another flow-map item', () => {
    const flow = fixture('flow-items.yaml');
    expect(changed(setImage(flow, { name: 'nginx', tag: '1.26.0' }))).toBe(flow.replace('newTag: 1.25.3', 'newTag: "1.26.0"'));
    expect(changed(setImage(flow, { name: 'redis', tag: '7.4' }))).toBe(
      flow.replace("digest: 'sha256:2f7f6f1a4a6a0c3b0f1e0b5d0b0c0f5a1e4d2c3b4a5f6e7d8c9b0a1f2e3d4c5b'", 'newTag: "7.4"'),
    );
    expect(changed(setImage(flow, { name: 'memcached', tag: '1.6' }))).toBe(`${flow}- {name: memcached, newTag: "1.6"}\n`);
    const both = 'images:\n- {name: a, newTag: v1, digest: "' + DIGEST_A + '"}\n';
    expect(changed(setImage(both, { name: 'a', tag: 'v2' }))).toBe('images:\n- {name: a, newTag: "v2"}\n');
    const digestFirst = 'images: [{digest: "' + DIGEST_A + '", newTag: v1, name: a}]\n';
    expect(changed(setImage(digestFirst, { name: 'a', tag: 'v2' }))).toBe('images: [{newTag: "v2", name: a}]\n');
  });

  it('fills `images: []` as a block sequence, keeping the comment on that line', () => {
    const empty = fixture('empty-images.yaml');
    expect(changed(setImage(empty, { name: 'nginx', tag: '1.27' }))).toBe(
      empty.replace('images: [] # filled in by Hoist\n', 'images: # filled in by Hoist\n  - name: nginx\n    newTag: "1.27"\n'),
    );
  });

  it('fills an `images:` key with no value, before the comments that follow it', () => {
    const nullImages = fixture('null-images.yaml');
    expect(changed(setImage(nullImages, { name: 'nginx', tag: '1.27' }))).toBe(
      nullImages.replace('images:\n', 'images:\n- name: nginx\n  newTag: "1.27"\n'),
    );
    expect(changed(setImage('images: ~\nresources: []\n', { name: 'nginx', tag: '1.27' }))).toBe(
      'images:\n- name: nginx\n  newTag: "1.27"\nresources: []\n',
    );
  });

  it('creates images in a flow top-level map', () => {
    expect(changed(setImage('{resources: [a.yaml]}\n', { name: 'nginx', tag: '1.27' }))).toBe(
      '{resources: [a.yaml], images: [{name: nginx, newTag: "1.27"}]}\n',
    );
  });

  it('writes YAML 1.1 hazards double-quoted, whatever the old quoting', () => {
    const hazards = fixture('yaml11-hazards.yaml');
    expect(readImages(hazards).map((e) => e.newTag)).toEqual([
      '1e345678',
      '01234567',
      '12345678',
      'yes',
      'on',
      '1.10',
      undefined,
      undefined,
    ]);
    for (const tag of ['1e345678', '01234567', '12345678', 'yes', 'on', '1.10']) {
      const name = readImages(hazards).find((e) => e.newTag === tag)?.name ?? '';
      // Same tag: rewritten all the same, because kustomize would not read the plain scalar as that string.
      const result = setImage(hazards, { name, tag });
      expect(changed(result)).toBe(hazards.replace(`name: ${name}\n  newTag: ${tag}\n`, `name: ${name}\n  newTag: "${tag}"\n`));
      expect(parse(result.text, { version: '1.1' }).images.find((e: { name: string }) => e.name === name).newTag).toBe(tag);
    }
    expect(changed(setImage(hazards, { name: 'app-null', tag: 'null' }))).toBe(
      hazards.replace('name: app-null\n  newTag: null', 'name: app-null\n  newTag: "null"'),
    );
    expect(changed(setImage(hazards, { name: 'app-tilde', tag: '0777' }))).toBe(
      hazards.replace('newTag: ~', 'newTag: "0777"'),
    );
    expect(changed(setImage(hazards, { name: 'app-new', tag: 'true' }))).toBe(`${hazards}- name: app-new\n  newTag: "true"\n`);
  });

  it('writes after the colon of an empty value, keeping the comment after it', () => {
    const text = 'images:\n- name: a\n  newTag:   # set by CI\n';
    expect(changed(setImage(text, { name: 'a', tag: 'v1' }))).toBe('images:\n- name: a\n  newTag: "v1"   # set by CI\n');
  });

  it('removes a line that shares the `- ` of its entry by pulling the next key up', () => {
    const text = `images:\n- digest: ${DIGEST_A} # old pin\n  # the image\n  name: a\n  newTag: v1\n`;
    expect(changed(setImage(text, { name: 'a', tag: 'v2' }))).toBe('images:\n- # the image\n  name: a\n  newTag: "v2"\n');
    const plain = `images:\n  - digest: ${DIGEST_A}\n    name: a\n    newTag: v1\n`;
    expect(changed(setImage(plain, { name: 'a', tag: 'v2' }))).toBe('images:\n  - name: a\n    newTag: "v2"\n');
  });

  it('removes the last line of a file without a final newline without adding one', () => {
    const text = `images:\n- name: a\n  newTag: v1\n  digest: ${DIGEST_A}`;
    expect(changed(setImage(text, { name: 'a', tag: 'v2' }))).toBe('images:\n- name: a\n  newTag: "v2"');
    const crlf = text.replace(/\n/g, '\r\n');
    expect(changed(setImage(crlf, { name: 'a', tag: 'v2' }))).toBe('images:\r\n- name: a\r\n  newTag: "v2"');
  });

  it('keeps other entries and other top-level keys untouched, comment for comment', () => {
    const text = changed(setImage(commented, { name: web, tag: 'v2' }));
    const before = commented.split('\n');
    const after = text.split('\n');
    expect(after.length).toBe(before.length);
    expect(after.filter((line, index) => line !== before[index])).toEqual(['    newTag: "v2" # promoted 2024-05-01']);
  });

  it('adds images after a trailing block-scalar patch without touching it', () => {
    const text = 'resources:\n- ../base\npatches:\n- target:\n    kind: Deployment\n  patch: |-\n    - op: replace\n      path: /spec/replicas\n      value: 3\n';
    expect(changed(setImage(text, { name: 'web', tag: 'v2' }))).toBe(`${text}images:\n- name: web\n  newTag: "v2"\n`);
    const kept = 'configMapGenerator:\n- name: x\n  literals:\n  - |+\n    a\n\n\n';
    expect(changed(setImage(kept, { name: 'web', tag: 'v2' }))).toBe(`${kept}images:\n- name: web\n  newTag: "v2"\n`);
  });

  it('accepts quoted keys and a byte order mark', () => {
    const text = '\uFEFFresources:\n- a.yaml\n"images":\n- "name": "a"\n  "newTag": "v1"\n';
    expect(changed(setImage(text, { name: 'a', tag: 'v2' }))).toBe(text.replace('"v1"', '"v2"'));
    expect(changed(setImage('\uFEFFresources:\n- a.yaml\n', { name: 'a', tag: 'v2' }))).toBe(
      '\uFEFFresources:\n- a.yaml\nimages:\n- name: a\n  newTag: "v2"\n',
    );
  });

  it('quotes a new entry name only when YAML would not read it as that string', () => {
    expect(changed(setImage('resources: []\n', { name: '12345', tag: 'v1' }))).toBe(
      'resources: []\nimages:\n- name: "12345"\n  newTag: "v1"\n',
    );
    expect(readImages(changed(setImage('resources: []\n', { name: 'registry.example.com:5000/group/web', tag: 'v1' })))).toEqual([
      { name: 'registry.example.com:5000/group/web', newTag: 'v1' },
    ]);
  });
});

describe('setImage refuses what it cannot do safely', () => {
  it('refuses an image that matches several entries (Renovate-style fixture)', () => {
    const shapes = fixture('renovate-shapes.yaml');
    expect(codeOf(() => setImage(shapes, { name: 'postgres', tag: '16' }))).toBe('kustomization_invalid');
    expect(messageOf(() => setImage(shapes, { name: 'postgres', tag: '16' }))).toMatch(/matches several entries/);
    // `postgres:11` is its own exact name.
    expect(changed(setImage(shapes, { name: 'postgres:11', tag: '16' }))).toBe(
      shapes.replace(
        'name: postgres:11\n    digest: sha256:b0cfe264cb1143c7c660ddfd5c482464997d62d6bc9f97f8fdf3deefce881a8c',
        'name: postgres:11\n    newTag: "16"',
      ),
    );
    expect(changed(setImage(shapes, { name: 'bitnami/postgresql', tag: '16.3.0' }))).toBe(
      `${shapes}    newTag: "16.3.0"\n`,
    );
  });

  it.each([
    ['a newline', 'v1\nresources: []'],
    ['a double quote', 'v1"'],
    ['a single quote', "v1'"],
    ['a comment', 'v1#x'],
    ['a colon and space', 'v1: x'],
    ['a space', 'v1 x'],
    ['unicode', 'v1\u00e9'],
    ['a fullwidth letter', '\uff561'],
    ['a leading dot', '.v1'],
    ['a leading dash', '-v1'],
    ['an empty string', ''],
    ['129 characters', 'a'.repeat(129)],
    ['a digest in the tag', `1@${DIGEST_A}`],
    ['a carriage return', 'v1\r'],
  ])('refuses a tag with %s', (_label, tag) => {
    const text = 'images:\n- name: a\n  newTag: v1\n';
    expect(codeOf(() => setImage(text, { name: 'a', tag }))).toBe('bad_request');
    expect(codeOf(() => setImage(text, { name: 'b', tag }))).toBe('bad_request');
  });

  it.each([
    ['no algorithm', 'a'.repeat(64)],
    ['a short sha256', `sha256:${'a'.repeat(63)}`],
    ['upper-case sha256 hex', `sha256:${'A'.repeat(64)}`],
    ['a newline', `${DIGEST_A}\nx: y`],
    ['a space', `sha256: ${'a'.repeat(64)}`],
    ['too short an encoding', 'md5:abc'],
  ])('refuses a digest with %s', (_label, digest) => {
    expect(codeOf(() => setImage('images: []\n', { name: 'a', digest }))).toBe('bad_request');
  });

  it.each(['a b', 'a\nb', 'a#b', 'a: b', '"a"', '', '-a', 'a/', '[a]', '*a', '&a'])('refuses the image name %j', (name) => {
    expect(codeOf(() => setImage('images: []\n', { name, tag: 'v1' }))).toBe('bad_request');
  });

  it('refuses a change with neither a tag nor a digest, and a bad digest beside a tag', () => {
    expect(codeOf(() => setImage('images: []\n', { name: 'a' } as unknown as ImageChange))).toBe('bad_request');
    expect(codeOf(() => setImage('images: []\n', { name: 'a', tag: 'v1', digest: 'sha256:abc' }))).toBe('bad_request');
  });

  it.each([
    ['invalid YAML', 'images: [\n', /not valid YAML/],
    ['a duplicate key', 'images: []\nimages: []\n', /not valid YAML/],
    ['a top-level sequence', '- name: a\n', /top level is not a map/],
    ['a top-level scalar', 'just text\n', /top level is not a map/],
    ['an empty file', '', /top level is not a map/],
    ['a comment-only file', '# nothing here\n', /top level is not a map/],
    ['two documents', 'resources: []\n---\nimages: []\n', /2 YAML documents/],
    ['images as a map', 'images:\n  a: b\n', /images` is not a sequence/],
    ['images as a string', 'images: nginx\n', /images` is not a sequence/],
    ['an entry that is a string', 'images:\n- nginx\n', /images\[0\] is not a map/],
    ['an entry without a name', 'images:\n- newTag: v1\n', /images\[0\] has no name/],
    ['a newTag that is a map', 'images:\n- name: a\n  newTag: {x: 1}\n', /not a string/],
  ])('refuses %s', (_label, text, message) => {
    expect(codeOf(() => setImage(text, { name: 'a', tag: 'v2' }))).toBe('kustomization_invalid');
    expect(messageOf(() => setImage(text, { name: 'a', tag: 'v2' }))).toMatch(message);
  });

  it.each([
    ['an anchored images sequence', 'images: &imgs\n- name: a\n  newTag: v1\nother: *imgs\n'],
    ['an aliased images sequence', 'x: &imgs\n- name: a\n  newTag: v1\nimages: *imgs\n'],
    ['an anchored entry', 'images:\n- &e\n  name: a\n  newTag: v1\n'],
    ['an aliased entry', 'x: &e {name: a, newTag: v1}\nimages:\n- *e\n'],
    ['an anchored tag value', 'images:\n- name: a\n  newTag: &t v1\nx: *t\n'],
    ['an aliased tag value', 'x: &t v1\nimages:\n- name: a\n  newTag: *t\n'],
    ['an explicit tag on the value', 'images:\n- name: a\n  newTag: !!str v1\n'],
    ['an explicit tag on the digest to drop', `images:\n- name: a\n  newTag: v1\n  digest: !!str ${DIGEST_A}\n`],
    ['an anchored top-level map when adding images', '--- &root\nresources: []\n'],
    ['a block scalar tag', 'images:\n- name: a\n  newTag: |\n    v1\n'],
  ])('refuses to guess with %s', (_label, text) => {
    expect(codeOf(() => setImage(text, { name: 'a', tag: 'v2' }))).toBe('kustomization_invalid');
  });

  it('accepts an empty document before the kustomization', () => {
    const text = '---\n# header only\n---\nimages:\n- name: a\n  newTag: v1\n';
    expect(changed(setImage(text, { name: 'a', tag: 'v2' }))).toBe(text.replace('v1', '"v2"'));
  });
});

describe('setImage with a tag and a digest (pin: digest)', () => {
  const block = 'resources:\n- ../base\nimages:\n- name: a # the app\n  newTag: v1 # promoted\n- name: b\n  newTag: v1\n';

  it('writes the digest beside the tag, touching nothing else', () => {
    const result = setImage(block, { name: 'a', tag: 'v2', digest: DIGEST_A });
    expect(changed(result)).toBe(block.replace('  newTag: v1 # promoted\n', `  newTag: "v2" # promoted\n  digest: "${DIGEST_A}"\n`));
    expect(result).toMatchObject({ before: { name: 'a', newTag: 'v1' }, after: { name: 'a', newTag: 'v2', digest: DIGEST_A } });
  });

  it('moves only the bytes that change: a digest for the same tag, both values in place and in their order', () => {
    const pinned = block.replace('  newTag: v1 # promoted\n', `  digest: ${DIGEST_A}\n  newTag: v1 # promoted\n`);
    // The tag stays `v1` as written (it reads the same in YAML 1.1); only the digest's bytes move.
    expect(changed(setImage(pinned, { name: 'a', tag: 'v1', digest: DIGEST_B }))).toBe(pinned.replace(DIGEST_A, `"${DIGEST_B}"`));
    expect(changed(setImage(pinned, { name: 'a', tag: 'v2', digest: DIGEST_B }))).toBe(
      pinned.replace(DIGEST_A, `"${DIGEST_B}"`).replace('newTag: v1 # promoted', 'newTag: "v2" # promoted'),
    );
    expect(setImage(pinned, { name: 'a', tag: 'v1', digest: DIGEST_A }).changed).toBe(false);
  });

  it('adds the tag to a digest-only entry, and both to a new entry or a flow map', () => {
    const digestOnly = `images:\n- name: a\n  digest: ${DIGEST_A}\n`;
    expect(changed(setImage(digestOnly, { name: 'a', tag: 'v2', digest: DIGEST_A }))).toBe(`${digestOnly}  newTag: "v2"\n`);
    expect(changed(setImage(block, { name: 'c', tag: 'v3', digest: DIGEST_B }))).toBe(`${block}- name: c\n  newTag: "v3"\n  digest: "${DIGEST_B}"\n`);
    expect(changed(setImage('images: [{name: a, newTag: v1}]\n', { name: 'a', tag: 'v2', digest: DIGEST_A }))).toBe(
      `images: [{name: a, newTag: "v2", digest: "${DIGEST_A}"}]\n`,
    );
    expect(changed(setImage('resources: []\n', { name: 'a', tag: 'v2', digest: DIGEST_A }))).toBe(`resources: []\nimages:\n- name: a\n  newTag: "v2"\n  digest: "${DIGEST_A}"\n`);
  });

  it('drops a stale digest when only a tag is written (an environment without pin: digest)', () => {
    const pinned = changed(setImage(block, { name: 'a', tag: 'v2', digest: DIGEST_A }));
    // Left in place, the old digest would win at render time and the new tag would not take effect.
    const result = setImage(pinned, { name: 'a', tag: 'v3' });
    expect(changed(result)).toBe(block.replace('newTag: v1 # promoted', 'newTag: "v3" # promoted'));
    expect(result).toMatchObject({ after: { name: 'a', newTag: 'v3' } });
    expect(readImages(result.text)[0]).not.toHaveProperty('digest');
  });

  it('gives the same bytes from the remembering editor, editing in place once it knows the file', () => {
    const editor = createImageEditor();
    const steps: Array<{ tag: string; digest?: string }> = [
      { tag: 'v2', digest: DIGEST_A },
      { tag: 'v3', digest: DIGEST_B },
      { tag: 'v3', digest: DIGEST_B },
      { tag: 'v4', digest: DIGEST_A },
      { tag: 'v5' },
      { tag: 'v6', digest: DIGEST_B },
    ];
    let slow = block;
    let quick = block;
    for (const step of steps) {
      const expected = setImage(slow, { name: 'a', ...step });
      const actual = editor.setImage(quick, { name: 'a', ...step });
      expect(actual).toEqual(expected);
      slow = expected.text;
      quick = actual.text;
      // The other entry's value keeps its place in the remembered index: editing it next still lands right.
      expect(editor.setImage(quick, { name: 'b', tag: 'v9' }).text).toBe(setImage(slow, { name: 'b', tag: 'v9' }).text);
    }
    expect(editor.entries(quick)).toEqual(readImages(slow));
  });
});

describe('readImages', () => {
  it('returns no entries when there are none', () => {
    expect(readImages(fixture('kustomize-hello-world.yaml'))).toEqual([]);
    expect(readImages(fixture('empty-images.yaml'))).toEqual([]);
    expect(readImages(fixture('null-images.yaml'))).toEqual([]);
  });

  it('reads entries of every shape in file order', () => {
    expect(readImages(fixture('kustomize-docs-images.yaml'))).toEqual([
      { name: 'postgres', newName: 'my-registry/my-postgres', newTag: 'v1' },
      { name: 'nginx', newTag: '1.8.0' },
      { name: 'my-demo-app', newName: 'my-app' },
      { name: 'alpine', digest: 'sha256:24a0c4b4a4c0eb97a1aabb8e29f18e917d05abfe1b7a7c07857230879ce7d3d3' },
    ]);
    expect(readImages(fixture('flow-style.yaml'))).toEqual([
      { name: 'nginx', newTag: '1.25.3' },
      { name: 'redis', newName: 'docker.io/library/redis', newTag: '7.2' },
    ]);
    expect(readImages(fixture('four-space-indent.yaml'))).toEqual([
      { name: 'ghcr.io/acme/billing', newTag: '2024.05.1' },
      { name: 'ghcr.io/acme/ledger', newName: 'ghcr.io/acme/ledger-fips' },
    ]);
  });

  it('resolves aliases when only reading', () => {
    expect(readImages('x: &t v1\nimages:\n- name: a\n  newTag: *t\n')).toEqual([{ name: 'a', newTag: 'v1' }]);
  });
});

describe('isValidTag and isValidDigest', () => {
  it('follows the OCI grammar', () => {
    expect(['v1', '1.10', '_x', 'A-b.c_d', 'a'.repeat(128)].every(isValidTag)).toBe(true);
    expect(['', '.v1', '-v1', 'a'.repeat(129), 'v 1', 'v1:2', 'v1@x'].some(isValidTag)).toBe(false);
    expect(isValidDigest(DIGEST_A)).toBe(true);
    expect(isValidDigest(`sha512:${'0'.repeat(128)}`)).toBe(true);
    expect(isValidDigest(`multihash+base58:${'Q'.repeat(46)}`)).toBe(true);
    expect(isValidDigest(`sha256:${'a'.repeat(65)}`)).toBe(false);
    expect(isValidDigest(`SHA256:${'a'.repeat(64)}`)).toBe(false);
    expect(isValidDigest('sha256:')).toBe(false);
  });
});
