import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { SimpleGit } from 'simple-git';
import type { CommitRecord, EnvironmentSnapshot, ImageState, RepoReader } from '../domain/ports.js';
import { KUSTOMIZATION_FILES, readImages } from '../kustomize/index.js';
import { createGit, toGitError, type GitSetup } from './git.js';

export interface ReaderOptions extends GitSetup {
  /** A bare repository of its own, so reads never race the writer's working clone. */
  dir: string;
  branch: string;
}

/** Reads overlays at the GitOps branch head through a bare mirror fetched on demand. */
export function createRepoReader(options: ReaderOptions): RepoReader {
  const { dir, branch, access } = options;
  const ref = `refs/hoist/${branch}`;
  let gitPromise: Promise<SimpleGit> | undefined;
  let chain: Promise<unknown> = Promise.resolve();

  const git = async () => {
    if (!existsSync(join(dir, 'HEAD'))) {
      await mkdir(dir, { recursive: true });
      const g = await createGit(dir, options);
      await g.raw(['init', '--bare', '--quiet']);
    }
    return (gitPromise ??= createGit(dir, options));
  };

  const fetchHead = async (): Promise<{ g: SimpleGit; commit: string }> => {
    const g = await git();
    try {
      await g.raw(['fetch', '--verbose', '--no-tags', access.url, `+refs/heads/${branch}:${ref}`]);
    } catch (error) {
      throw toGitError('reading the GitOps branch', error, access);
    }
    return { g, commit: (await g.raw(['rev-parse', ref])).trim() };
  };

  const overlayImages = async (g: SimpleGit, rev: string, path: string): Promise<ImageState[] | undefined> => {
    for (const name of KUSTOMIZATION_FILES) {
      const text = await g.raw(['show', `${rev}:${path}/${name}`]).catch(() => undefined);
      if (text !== undefined) return readImages(text).map((e) => ({ name: e.name, newName: e.newName, tag: e.newTag, digest: e.digest }));
    }
    return undefined;
  };

  const read = async (paths: Readonly<Record<string, string>>): Promise<EnvironmentSnapshot> => {
    const { g, commit } = await fetchHead();
    const environments: EnvironmentSnapshot['environments'] = {};
    for (const [env, path] of Object.entries(paths)) {
      let text: string | undefined;
      for (const name of KUSTOMIZATION_FILES) {
        text = await g.raw(['show', `${commit}:${path}/${name}`]).catch(() => undefined);
        if (text !== undefined) break;
      }
      if (text === undefined) {
        environments[env] = { error: `no kustomization.yaml in ${path}` };
        continue;
      }
      try {
        const images: ImageState[] = readImages(text).map((e) => ({ name: e.name, newName: e.newName, tag: e.newTag, digest: e.digest }));
        environments[env] = { images };
      } catch (error) {
        environments[env] = { error: (error as Error).message };
      }
    }
    return { commit, environments };
  };

  const readHistory = async (limit: number): Promise<CommitRecord[]> => {
    const { g, commit } = await fetchHead();
    const out = await g.raw(['log', `-n${limit}`, '--grep=^Hoist-App: ', '--format=%H%x1f%cI%x1f%B%x1e', commit]);
    return out
      .split('\x1e')
      .map((r) => r.replace(/^\n+/, ''))
      .filter((r) => r.includes('\x1f'))
      .map((r) => {
        const [c = '', date = '', message = ''] = r.split('\x1f');
        return { commit: c, date, message };
      });
  };

  // One read at a time per process: concurrent fetches into one repo fight over its ref locks.
  const serial = <T>(run: () => Promise<T>): Promise<T> => {
    const next = chain.then(run);
    chain = next.catch(() => undefined);
    return next;
  };

  return {
    snapshot: (paths) => serial(() => read(paths)),
    history: (limit) => serial(() => readHistory(limit)),
    imagesAt: (rev, path) =>
      serial(async () => {
        if (!/^[0-9a-f]{7,64}\^?$/.test(rev)) return undefined;
        return overlayImages(await git(), rev, path).catch(() => undefined);
      }),
  };
}
