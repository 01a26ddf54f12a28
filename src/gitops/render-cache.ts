import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { parse } from 'yaml';
import { KUSTOMIZATION_FILES, expectedImageRef, readImages } from '../kustomize/index.js';
import type { Workspace } from './workspace.js';

export interface RenderCache {
  /**
   * The overlay's rendered output. When everything it renders from is unchanged but image tags and
   * digests, the last output is reused with those image references swapped: kustomize's image
   * transformer is deterministic, so that is exactly what it would print. Otherwise `render` runs.
   */
  render(kustomizationPath: string, text: string, render: () => Promise<string>): Promise<string>;
}

/** Local directories and files a kustomization pulls in (resources, bases, components, patches…), recursively. */
async function inputsOf(workspace: Workspace, dir: string, seen: Set<string>): Promise<void> {
  if (seen.has(dir)) return;
  seen.add(dir);
  let text: string | undefined;
  for (const name of KUSTOMIZATION_FILES) {
    text = await workspace.readFile(posix.join(dir, name));
    if (text !== undefined) break;
  }
  if (text === undefined) return;
  let doc: unknown;
  try {
    doc = parse(text);
  } catch {
    return;
  }
  if (!doc || typeof doc !== 'object') return;
  const refs: string[] = [];
  for (const key of ['resources', 'bases', 'components', 'patchesStrategicMerge', 'crds', 'configurations']) {
    const list = (doc as Record<string, unknown>)[key];
    if (Array.isArray(list)) for (const item of list) if (typeof item === 'string') refs.push(item);
  }
  for (const key of ['patches', 'configMapGenerator', 'secretGenerator']) {
    const list = (doc as Record<string, unknown>)[key];
    if (Array.isArray(list)) for (const item of list) if (item && typeof item === 'object' && typeof (item as { path?: unknown }).path === 'string') refs.push((item as { path: string }).path);
  }
  for (const ref of refs) {
    if (/^[a-z]+:\/\/|^git@|^github\.com\//.test(ref)) {
      seen.add(`remote:${ref}`);
      continue;
    }
    const target = posix.normalize(posix.join(dir, ref));
    if (target.startsWith('..')) continue;
    await inputsOf(workspace, target, seen);
  }
}

/** The kustomization with every newTag/digest value blanked: what the cache may ignore. */
function withoutTags(text: string): string {
  return text.replace(/^(\s*-?\s*(?:newTag|digest)\s*:).*$/gm, '$1 _');
}

function imageRefs(text: string): Map<string, string> {
  return new Map(readImages(text).filter((e) => e.newTag || e.digest).map((e) => [e.name, expectedImageRef(e)]));
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Swaps one image reference for another wherever a manifest line sets `image:` to exactly it. */
function retag(output: string, from: string, to: string): string {
  return output.replace(new RegExp(`^(\\s*-?\\s*image:\\s*["']?)${escape(from)}(["']?\\s*)$`, 'gm'), (_m, head: string, tail: string) => `${head}${to}${tail}`);
}

/**
 * Keeps the last render of each overlay so the hot path does not spawn kustomize for every promotion.
 * Its key is the git object ids (at the synced head) of every local input of the overlay plus the
 * overlay's kustomization with tag and digest values blanked; remote bases make an overlay uncacheable.
 */
export function createRenderCache(workspace: Workspace): RenderCache {
  const last = new Map<string, { key: string; output: string; refs: Map<string, string> }>();
  return {
    async render(kustomizationPath, text, render) {
      const overlay = posix.dirname(kustomizationPath);
      const inputs = new Set<string>();
      await inputsOf(workspace, overlay, inputs);
      if ([...inputs].some((i) => i.startsWith('remote:'))) return render();
      // The overlay's own files count by content (its kustomization without tags), the rest by object id.
      const others = [...inputs].filter((p) => p !== overlay).sort();
      const ids = await workspace.objectIds(others);
      const overlayFiles = await workspace.objectIds(await workspace.listFiles(overlay));
      const hash = createHash('sha256').update(withoutTags(text));
      for (const [path, id] of overlayFiles) if (posix.basename(path) !== posix.basename(kustomizationPath)) hash.update(`\0${path}=${id}`);
      for (const path of others) hash.update(`\0${path}=${ids.get(path) ?? 'missing'}`);
      const key = hash.digest('hex');
      const refs = imageRefs(text);
      const cached = last.get(kustomizationPath);
      if (cached && cached.key === key) {
        let output = cached.output;
        for (const [name, ref] of refs) {
          const before = cached.refs.get(name);
          if (before && before !== ref) output = retag(output, before, ref);
        }
        return output;
      }
      const output = await render();
      last.set(kustomizationPath, { key, output, refs });
      return output;
    },
  };
}
