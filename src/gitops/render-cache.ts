import { createHash } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { KUSTOMIZATION_FILES, expectedImageRef, findRenderedImages, kustomizationData, readImages, type ImageEntry } from '../kustomize/index.js';
import type { Workspace } from './workspace.js';

export interface RenderInput {
  /** The overlay's kustomization file, relative to the workspace. */
  path: string;
  /** Its text at the synced head. */
  original: string;
  /** The text to render: `original` with the edits applied (already written to the workspace). */
  text: string;
  /** The image entries as the edits left them (the editor's `after`); every other entry is as in `original`. */
  edited: readonly ImageEntry[];
  /** The renderer and its version (`Renderer.identify`): with one, renders are also kept on disk for the next process. */
  renderer?: string | undefined;
  /** Render for real even when the cache could answer (the last answer is in doubt), and keep the new one. */
  fresh?: boolean | undefined;
}

/** Runs the real render; `timeoutMs` is how long this overlay may legitimately take. */
export type RenderRun = (options: { timeoutMs?: number }) => Promise<string>;

export interface RenderCache {
  /**
   * The container images the overlay renders (as `findRenderedImages` reads them). When everything it
   * renders from is unchanged but image tags and digests, the last render's images are reused with those
   * references swapped: kustomize's image transformer is deterministic, so that is exactly what it would
   * print. Otherwise `render` runs.
   */
  images(input: RenderInput, render: RenderRun): Promise<string[]>;
}

/** What a render of the overlay depends on besides its own kustomization, found by walking its kustomizations. */
interface Shape {
  /** Paths whose git object ids at the synced head are part of the key (directories count as a whole). */
  inputs: string[];
  /** A remote base: its content is not in the repo, so the overlay is never cached. */
  remote: boolean;
  /** images entries × resources seen: kustomize's image transformer costs about that much. */
  size: number;
}

interface Entry {
  renderer: string | undefined;
  key: string;
  shape: Shape;
  /** The render's container images for the image references `refs`, which belong to the text hashed `textHash`. */
  images: string[];
  refs: Map<string, string>;
  textHash: string;
}

/** On disk: an Entry with its refs as pairs. */
type StoredEntry = Omit<Entry, 'refs' | 'renderer'> & { renderer: string; refs: Array<[string, string]> };
const STORE_VERSION = 1;

/** The kustomization with every newTag/digest value blanked: what the cache may ignore. */
function withoutTags(text: string): string {
  return text.replace(/^(\s*-?\s*(?:newTag|digest)\s*:).*$/gm, '$1 _');
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

function refsOf(entries: readonly ImageEntry[]): Map<string, string> {
  return new Map(entries.filter((e) => e.newTag || e.digest).map((e) => [e.name, expectedImageRef(e)]));
}

const LIST_KEYS = ['resources', 'bases', 'components', 'patchesStrategicMerge', 'crds', 'configurations'];
const PATH_KEYS = ['patches', 'configMapGenerator', 'secretGenerator'];

/** Local files and directories a kustomization names (resources, bases, components, patches…). */
function referencesOf(doc: unknown): { refs: string[]; resources: number; images: number } {
  if (!doc || typeof doc !== 'object') return { refs: [], resources: 0, images: 0 };
  const record = doc as Record<string, unknown>;
  const refs: string[] = [];
  for (const key of LIST_KEYS) {
    const list = record[key];
    if (Array.isArray(list)) for (const item of list) if (typeof item === 'string') refs.push(item);
  }
  for (const key of PATH_KEYS) {
    const list = record[key];
    if (Array.isArray(list)) for (const item of list) if (item && typeof item === 'object' && typeof (item as { path?: unknown }).path === 'string') refs.push((item as { path: string }).path);
  }
  const resources = Array.isArray(record.resources) ? record.resources.length : 0;
  const images = Array.isArray(record.images) ? record.images.length : 0;
  return { refs, resources, images };
}

/**
 * The overlay's inputs: its directory's other entries, and every local path its kustomizations name,
 * recursively. A directory holding a kustomization counts by its tree id (all of it), so a base with
 * 1,000 resource files is one input, not 1,000.
 */
async function shapeOf(workspace: Workspace, kustomizationPath: string, text: string): Promise<Shape> {
  const overlay = posix.dirname(kustomizationPath);
  const inputs = new Set((await workspace.listFiles(overlay)).filter((p) => p !== kustomizationPath));
  const visited = new Set<string>();
  let remote = false;
  let resources = 0;
  let images = 0;
  // From git's trees at the head, like every other input of the key: the working tree is only a cache.
  const isDirectory = async (path: string): Promise<boolean> => (await workspace.kindOf(path)) === 'dir';
  const visit = async (dir: string, kustomization: string): Promise<void> => {
    visited.add(dir);
    let doc: unknown;
    try {
      doc = kustomizationData(kustomization); // bounded like every read of repo YAML: size, tokens, aliases
    } catch {
      // Either kustomize will say what is wrong with it, or it is past Hoist's bounds while kustomize reads it:
      // then what it names is unknown here, and a key without those inputs could reuse a stale render.
      remote = true;
      return;
    }
    const found = referencesOf(doc);
    resources += found.resources;
    images += found.images;
    for (const ref of found.refs) {
      if (/^[a-z]+:\/\/|^git@|^github\.com\//.test(ref)) {
        remote = true;
        continue;
      }
      const target = posix.normalize(posix.join(dir, ref));
      if (target.startsWith('..')) continue;
      if (target !== overlay && !target.startsWith(`${overlay}/`)) inputs.add(target);
      if (visited.has(target) || !(await isDirectory(target))) continue;
      for (const name of KUSTOMIZATION_FILES) {
        const nested = await workspace.readFile(posix.join(target, name));
        if (nested !== undefined) {
          await visit(target, nested);
          break;
        }
      }
    }
  };
  await visit(overlay, text);
  // A path inside another input is covered by that input's tree id.
  const all = [...inputs].sort();
  const covered = (path: string) => all.some((other) => other !== path && path.startsWith(`${other}/`));
  return { inputs: all.filter((p) => !covered(p)), remote, size: Math.max(1, images) * Math.max(1, resources) };
}

/** Every container image of the render written as an `image:` line, so swapping references in the list is swapping lines. */
function retaggable(output: string, images: readonly string[]): boolean {
  const lines = new Set<string>();
  for (const match of output.matchAll(/^\s*-?\s*image:\s*["']?([^"'\s]+)["']?\s*$/gm)) lines.add(match[1] as string);
  return images.every((image) => lines.has(image));
}

/** The base render budget, plus this much per images entry × resource (kustomize took ~0.09 ms per pair on the bench machine). */
const BASE_BUDGET_MS = 30_000;
const BUDGET_PER_PAIR_MS = 0.25;

const budgetMs = (shape: Shape) => BASE_BUDGET_MS + Math.round(shape.size * BUDGET_PER_PAIR_MS);

/** How long a render of this overlay may legitimately take, for renders that do not go through the cache. */
export async function renderBudgetMs(workspace: Workspace, kustomizationPath: string, text: string): Promise<number> {
  return budgetMs(await shapeOf(workspace, kustomizationPath, text));
}

/**
 * Keeps the last render of each overlay so the hot path does not spawn kustomize for every promotion.
 * Its key is the overlay's kustomization with tag and digest values blanked plus the git object ids (at
 * the synced head) of everything else the overlay renders from; remote bases make an overlay uncacheable.
 * On a hit nothing is parsed or walked: the ids come from the workspace's memory of the head (no git
 * process unless someone else moved the branch) and the image references from the last hit.
 */
export function createRenderCache(workspace: Workspace): RenderCache {
  const last = new Map<string, Entry>();
  // Kept across restarts next to the clone (a fresh clone starts without it): the first render of a large
  // overlay can take minutes, and nothing about it changes when Hoist restarts.
  const file = join(workspace.dir, '.git', 'hoist-render-cache.json');
  let loaded: Promise<void> | undefined;
  const load = () =>
    (loaded ??= readFile(file, 'utf8').then(
      (text) => {
        const stored = JSON.parse(text) as { version?: unknown; overlays?: Record<string, StoredEntry> };
        if (stored.version !== STORE_VERSION || !stored.overlays) return;
        for (const [path, e] of Object.entries(stored.overlays)) {
          if (last.has(path) || typeof e.renderer !== 'string' || !Array.isArray(e.images) || !Array.isArray(e.refs) || !Array.isArray(e.shape?.inputs)) continue;
          last.set(path, { renderer: e.renderer, key: e.key, shape: e.shape, images: e.images, refs: new Map(e.refs), textHash: e.textHash });
        }
      },
      () => undefined, // none yet, or unreadable: start empty
    ));
  const save = async () => {
    const overlays: Record<string, StoredEntry> = {};
    for (const [path, e] of last) if (e.renderer !== undefined) overlays[path] = { ...e, renderer: e.renderer, refs: [...e.refs] };
    const temp = `${file}.${process.pid}.tmp`;
    await writeFile(temp, JSON.stringify({ version: STORE_VERSION, overlays }));
    await rename(temp, file);
  };

  const keyOf = async (input: RenderInput, shapeText: string, inputs: readonly string[]): Promise<string> => {
    const ids = await workspace.objectIds(inputs);
    const hash = createHash('sha256').update(shapeText);
    for (const path of inputs) hash.update(`\0${path}=${ids.get(path) ?? 'missing'}`);
    // A file added next to the kustomization (a second kustomization file, say) changes the listing.
    for (const path of await workspace.listFiles(posix.dirname(input.path))) hash.update(`\0${path}`);
    return hash.digest('hex');
  };

  /** The cached images moved to the input's image references, or undefined when only a render can tell. */
  const reuse = (entry: Entry, input: RenderInput): string[] | undefined => {
    const base = entry.textHash === sha256(input.original) ? entry.refs : refsOf(readImages(input.original));
    const refs = new Map(base);
    for (const e of input.edited) {
      if (e.newTag || e.digest) refs.set(e.name, expectedImageRef(e));
      else refs.delete(e.name);
    }
    const uses = new Map<string, number>();
    for (const ref of entry.refs.values()) uses.set(ref, (uses.get(ref) ?? 0) + 1);
    const swap = new Map<string, string>();
    for (const name of new Set([...entry.refs.keys(), ...refs.keys()])) {
      const from = entry.refs.get(name);
      const to = refs.get(name);
      if (from === to) continue;
      // An entry that gains or loses its tag, or shares its reference with another entry: only a render can tell.
      if (from === undefined || to === undefined || (uses.get(from) ?? 0) > 1) return undefined;
      swap.set(from, to);
    }
    const images = [...new Set(entry.images.map((image) => swap.get(image) ?? image))];
    entry.images = images;
    entry.refs = refs;
    entry.textHash = sha256(input.text);
    return images;
  };

  return {
    async images(input, render) {
      await load();
      const shapeText = withoutTags(input.text);
      const cached = input.fresh ? undefined : last.get(input.path);
      if (cached && cached.renderer === input.renderer && (await keyOf(input, shapeText, cached.shape.inputs)) === cached.key) {
        const images = reuse(cached, input);
        if (images) return [...images];
      }
      last.delete(input.path);
      const shape = await shapeOf(workspace, input.path, input.text);
      const key = await keyOf(input, shapeText, shape.inputs);
      const output = await render({ timeoutMs: budgetMs(shape) });
      const images = await findRenderedImages(output);
      if (!shape.remote && retaggable(output, images)) {
        last.set(input.path, { renderer: input.renderer, key, shape, images, refs: refsOf(readImages(input.text)), textHash: sha256(input.text) });
        // Losing the file only costs a render later.
        if (input.renderer !== undefined) await save().catch(() => undefined);
      }
      return images;
    },
  };
}
