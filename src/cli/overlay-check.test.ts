import { describe, expect, it } from 'vitest';
import { inspectOverlay, locateRenderError } from './overlay-check.js';

const WEB = { app: 'web', image: 'registry.example.com/group/web' };
const API = { app: 'api', image: 'registry.example.com/group/api' };

const OVERLAY = [
  '# dev',
  'resources:',
  '  - ../../base',
  'images:',
  '  - name: registry.example.com/group/web',
  '    newTag: "0.1.0"',
  '',
].join('\n');

describe('inspectOverlay', () => {
  it('returns the entry of a listed app with its line, and an unlisted app for the render check', () => {
    expect(inspectOverlay(OVERLAY, [WEB, API])).toEqual({
      renderable: true,
      problems: [],
      entries: [{ app: 'web', entry: { name: WEB.image, newTag: '0.1.0' }, line: 5 }],
      unlisted: [API],
      imagesLine: 4,
    });
  });

  it('reports a duplicate entry at the second one, naming both lines', () => {
    const text = `${OVERLAY}  - name: registry.example.com/group/web\n    newTag: "0.2.0"\n`;
    const result = inspectOverlay(text, [WEB]);
    expect(result.entries).toEqual([]);
    expect(result.problems).toEqual([
      { line: 7, message: expect.stringMatching(/^registry\.example\.com\/group\/web \(app "web"\) is listed 2 times: images\[0\] \(line 5\), images\[1\] \(line 7\)\./) },
    ]);
  });

  it('finds the lines of flow-style entries', () => {
    const text = 'resources: [a.yaml]\nimages:\n- {name: other, newTag: v1}\n- {name: registry.example.com/group/web, newTag: v1}\n';
    expect(inspectOverlay(text, [WEB]).entries).toEqual([{ app: 'web', entry: { name: WEB.image, newTag: 'v1' }, line: 4 }]);
  });

  it('reports what keeps setImage from editing, at the images line', () => {
    const result = inspectOverlay('resources: [a.yaml]\nimages:\n  web: v1\n', [WEB]);
    expect(result.problems).toEqual([{ line: 2, message: expect.stringContaining('Hoist cannot read this kustomization: kustomization `images` is not a sequence') }]);
    const anchored = inspectOverlay('images:\n- name: registry.example.com/group/web\n  newTag: &t v1\nx: *t\n', [WEB]);
    expect(anchored.problems).toEqual([{ line: 2, message: expect.stringContaining('Hoist cannot set the tag of registry.example.com/group/web (app "web") here') }]);
  });

  it('reports invalid YAML with its position and does not ask for a render', () => {
    const result = inspectOverlay('resources:\n  - a.yaml\nimages: [\n', [WEB]);
    expect(result.renderable).toBe(false);
    expect(result.problems[0]).toMatchObject({ line: 4, message: expect.stringMatching(/^not valid YAML: /) });
  });
});

describe('locateRenderError', () => {
  const text = 'resources:\n  - ../../base\n  - missing.yaml\npatches:\n  - path: patch.yaml\nnamePrefix: x-\n';
  const dir = '/repo/overlays/dev';

  it('finds a quoted resource', () => {
    const reason = "accumulating resources: accumulation err='accumulating resources from 'missing.yaml': evalsymlink failure on '/repo/overlays/dev/missing.yaml'";
    expect(locateRenderError(text, reason, dir)).toBe(3);
  });

  it('finds a path that kustomize resolved against the overlay directory', () => {
    const reason = "trouble configuring builtin PatchTransformer with config: ` path: patch.yaml `: evalsymlink failure on '/repo/overlays/dev/patch.yaml.bak'";
    expect(locateRenderError(text, reason, dir)).toBeUndefined();
    expect(locateRenderError(text, reason.replace('.bak', ''), dir)).toBe(5);
  });

  it('finds an unknown field', () => {
    expect(locateRenderError('resources: []\nnamePrefx: x\n', 'invalid Kustomization: json: unknown field "namePrefx"', dir)).toBe(2);
  });

  it('gives no line when the error names nothing in the file', () => {
    expect(locateRenderError(text, 'json: cannot unmarshal string into Go struct field Replica.replicas.count of type int64', dir)).toBeUndefined();
  });
});
