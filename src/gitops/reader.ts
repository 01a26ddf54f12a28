import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { SimpleGit } from 'simple-git';
import type { EnvironmentSnapshot, ImageState, RepoReader } from '../domain/ports.js';
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

  const read = async (paths: Readonly<Record<string, string>>): Promise<EnvironmentSnapshot> => {
    const g = await git();
    try {
      await g.raw(['fetch', '--verbose', '--no-tags', '--depth=1', access.url, `+refs/heads/${branch}:${ref}`]);
    } catch (error) {
      throw toGitError('reading the GitOps branch', error, access);
    }
    const commit = (await g.raw(['rev-parse', ref])).trim();
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

  return {
    // One read at a time per process: concurrent fetches into one repo fight over its ref locks.
    snapshot(paths) {
      const next = chain.then(() => read(paths));
      chain = next.catch(() => undefined);
      return next;
    },
  };
}
