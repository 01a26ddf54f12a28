import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { parse } from 'yaml';
import { KUSTOMIZATION_FILES } from '../kustomize/index.js';
import type { Workspace } from './workspace.js';

export interface RenderCache {
  /**
   * Runs `check` unless an earlier check of the same overlay and images passed with everything the
   * overlay renders from unchanged except image tags and digests (which cannot break a render).
   */
  checkOnce(kustomizationPath: string, text: string, images: readonly string[], check: () => Promise<void>): Promise<void>;
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

/**
 * Remembers passed render checks so the hot path does not spawn kustomize for every promotion. The key
 * is the git object ids (at the synced head) of every local input of the overlay, plus the overlay's own
 * kustomization with tags blanked; remote bases make an overlay uncacheable.
 */
export function createRenderCache(workspace: Workspace, options: { maxEntries?: number } = {}): RenderCache {
  const maxEntries = options.maxEntries ?? 2_000;
  const passed = new Set<string>();
  return {
    async checkOnce(kustomizationPath, text, images, check) {
      const overlay = posix.dirname(kustomizationPath);
      const inputs = new Set<string>();
      await inputsOf(workspace, overlay, inputs);
      if ([...inputs].some((i) => i.startsWith('remote:'))) return check();
      // The overlay's own files count by content (its kustomization without tags), the rest by object id.
      const others = [...inputs].filter((p) => p !== overlay).sort();
      const ids = await workspace.objectIds([overlay, ...others]);
      const overlayFiles = await workspace.objectIds(await workspace.listFiles(overlay));
      const hash = createHash('sha256');
      hash.update(withoutTags(text)).update('\0').update([...images].sort().join(','));
      for (const [path, id] of overlayFiles) if (posix.basename(path) !== posix.basename(kustomizationPath)) hash.update(`\0${path}=${id}`);
      for (const path of others) hash.update(`\0${path}=${ids.get(path) ?? 'missing'}`);
      const key = `${kustomizationPath}\0${hash.digest('hex')}`;
      if (passed.has(key)) return;
      await check();
      if (passed.size >= maxEntries) passed.delete(passed.values().next().value as string);
      passed.add(key);
    },
  };
}
