import { existsSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { EnvironmentSnapshot, HistoryCommit, ImageState, OverlayChange, ReadOptions } from '../domain/ports.js';
import { isHoistError } from '../errors.js';
import { KUSTOMIZATION_FILES, readImages } from '../kustomize/index.js';
import { createGitRunner, toGitError, type GitRunner, type GitSetup } from './git.js';
import { readObjects } from './object-store.js';
import { readHistory, type CommitVerifier } from './signed-history.js';

export interface ReaderOptions extends GitSetup {
  /** A bare repository of its own, so reads never race the writer's working clone. */
  dir: string;
  branch: string;
  verifier: CommitVerifier;
  /** Overlay paths of `write: api` environments, where an unsigned commit by Hoist's author counts as Hoist's. */
  apiPaths?: readonly string[];
}

/** Reads a ref of a bare repository from its files (loose, then packed-refs); undefined means "ask git". */
async function readRef(gitDir: string, ref: string): Promise<string | undefined> {
  const loose = await readFile(join(gitDir, ref), 'utf8').catch(() => undefined);
  if (loose !== undefined) return /^[0-9a-f]{40}([0-9a-f]{24})?$/.test(loose.trim()) ? loose.trim() : undefined;
  const packed = await readFile(join(gitDir, 'packed-refs'), 'utf8').catch(() => '');
  const line = packed.split('\n').find((l) => l.endsWith(` ${ref}`) && /^[0-9a-f]{40}([0-9a-f]{24})? /.test(l));
  return line?.slice(0, line.indexOf(' '));
}

/** Outside commits whose changes a history read works out (each once): the newest ones, which people look at. */
const OUTSIDE_ANALYSED = 100;

const toState = (text: string): ImageState[] => readImages(text).map((e) => ({ name: e.name, newName: e.newName, tag: e.newTag, digest: e.digest }));

/** One repository and branch, read by overlay path: the fleet reader (fleet-reader.ts) turns environments into these. */
export interface TargetReader {
  /** Per key, the images of the overlay at that path (or an error), at the branch head. */
  snapshot(paths: Readonly<Record<string, string>>, options?: ReadOptions): Promise<EnvironmentSnapshot>;
  history(paths: readonly string[], limit: number, options?: ReadOptions): Promise<HistoryCommit[]>;
  imagesAt(rev: string, overlayPath: string): Promise<ImageState[] | undefined>;
}

/** Reads overlays and Hoist's signed history at the GitOps branch head through a bare mirror fetched on demand. */
export function createRepoReader(options: ReaderOptions): TargetReader {
  const { dir, branch, access } = options;
  const ref = `refs/hoist/${branch}`;
  let runnerPromise: Promise<GitRunner> | undefined;
  let chain: Promise<unknown> = Promise.resolve();
  /** What each outside commit changed, by commit id: it never changes, and parsing it again would cost. */
  const outsideChanges = new Map<string, OverlayChange[]>();

  const git = async (): Promise<GitRunner> => {
    if (!existsSync(join(dir, 'HEAD'))) {
      await mkdir(dir, { recursive: true });
      const runner = await (runnerPromise ??= createGitRunner(dir, options));
      await runner.run(['init', '--bare', '--quiet']);
    }
    return (runnerPromise ??= createGitRunner(dir, options));
  };

  /**
   * The mirror is a cache too: when git reports it broken, it is deleted and read again from the remote, once.
   * `read` gets a runner that turns git failures into HoistErrors naming what failed.
   */
  const withMirror = async <T>(read: (g: GitRunner) => Promise<T>): Promise<T> => {
    const attempt = async () => {
      const base = await git();
      const g: GitRunner = {
        run: (args) => base.run(args).catch((error: unknown) => Promise.reject(toGitError(`reading the GitOps branch (git ${args[0] ?? ''})`, error, access))),
        runBytes: (args, input) => base.runBytes(args, input).catch((error: unknown) => Promise.reject(toGitError(`reading the GitOps branch (git ${args[0] ?? ''})`, error, access))),
      };
      return read(g);
    };
    try {
      return await attempt();
    } catch (error) {
      if (!isHoistError(error) || error.details?.gitFailure !== 'corrupt') throw error;
      await rm(dir, { recursive: true, force: true });
      return attempt();
    }
  };

  /** The last fetch, so reads within `maxAgeMs` of it (one board page asks several times) share it. */
  let fetched: { at: number; commit: string } | undefined;
  const fetchHead = async (g: GitRunner, maxAgeMs = 0): Promise<string> => {
    if (fetched && maxAgeMs > 0 && Date.now() - fetched.at < maxAgeMs) return fetched.commit;
    const at = Date.now();
    await g.run(['fetch', '--quiet', '--no-tags', access.url, `+refs/heads/${branch}:${ref}`]);
    const commit = (await readRef(dir, ref)) ?? (await g.run(['rev-parse', ref])).trim();
    fetched = { at, commit };
    return commit;
  };

  /** The first kustomization file kustomize would read in each path, at `rev` (one git process for all). */
  const kustomizations = async (g: GitRunner, rev: string, paths: readonly string[]): Promise<Map<string, string | undefined>> => {
    const objects = await readObjects(g, paths.flatMap((path) => KUSTOMIZATION_FILES.map((name) => `${rev}:${path}/${name}`)));
    const text = (spec: string) => {
      const object = objects.get(spec);
      return object?.type === 'blob' ? object.body.toString('utf8') : undefined;
    };
    return new Map(paths.map((path) => [path, KUSTOMIZATION_FILES.map((name) => text(`${rev}:${path}/${name}`)).find((t) => t !== undefined)]));
  };

  /** Snapshots by commit and paths: a commit's overlays never change, and the board asks for the same ones on every load. */
  const snapshots = new Map<string, EnvironmentSnapshot>();
  const read = (paths: Readonly<Record<string, string>>, maxAgeMs?: number): Promise<EnvironmentSnapshot> =>
    withMirror(async (g) => {
      const commit = await fetchHead(g, maxAgeMs);
      const key = `${commit}\0${JSON.stringify(paths)}`;
      const known = snapshots.get(key);
      if (known) return known;
      const environments: EnvironmentSnapshot['environments'] = {};
      const texts = await kustomizations(g, commit, [...new Set(Object.values(paths))]);
      for (const [env, path] of Object.entries(paths)) {
        const text = texts.get(path);
        if (text === undefined) {
          environments[env] = { error: `no kustomization.yaml in ${path}` };
          continue;
        }
        try {
          environments[env] = { images: toState(text) };
        } catch (error) {
          environments[env] = { error: (error as Error).message };
        }
      }
      // Shared by every later read of this commit: frozen, so no caller can change what the next one sees.
      for (const state of Object.values(environments)) if ('images' in state) for (const image of state.images) Object.freeze(image);
      const snapshot = Object.freeze({ commit, environments: Object.freeze(environments) });
      if (snapshots.size >= 16) snapshots.delete(snapshots.keys().next().value as string);
      snapshots.set(key, snapshot);
      return snapshot;
    });

  // One read at a time per process: concurrent fetches into one repo fight over its ref locks.
  const serial = <T>(run: () => Promise<T>): Promise<T> => {
    const next = chain.then(run);
    chain = next.catch(() => undefined);
    return next;
  };

  return {
    snapshot: (paths, readOptions) => serial(() => read(paths, readOptions?.maxAgeMs)),
    history: (paths, limit, readOptions) =>
      serial(() =>
        withMirror(async (g) =>
          readHistory(g, options.verifier, { rev: await fetchHead(g, readOptions?.maxAgeMs), paths, limit, outside: { max: OUTSIDE_ANALYSED, cache: outsideChanges }, apiPaths: options.apiPaths }),
        ),
      ),
    imagesAt: (rev, path) =>
      serial(async () => {
        if (!/^[0-9a-f]{7,64}\^?$/.test(rev)) return undefined;
        const text = (await kustomizations(await git(), rev, [path])).get(path);
        return text === undefined ? undefined : toState(text);
      }).catch(() => undefined),
  };
}
