import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CommitRecord, EnvironmentSnapshot, ImageState, RepoReader } from '../domain/ports.js';
import { KUSTOMIZATION_FILES, readImages } from '../kustomize/index.js';
import { createGitRunner, toGitError, type GitRunner, type GitSetup } from './git.js';

export interface ReaderOptions extends GitSetup {
  /** A bare repository of its own, so reads never race the writer's working clone. */
  dir: string;
  branch: string;
}

/** Blobs by `rev:path` from one `git cat-file --batch` run; absent paths (or trees) are left out. */
async function readBlobs(runner: GitRunner, specs: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (specs.length === 0) return out;
  const bytes = await runner.runBytes(['cat-file', '--batch'], `${specs.join('\n')}\n`);
  let at = 0;
  for (const spec of specs) {
    const eol = bytes.indexOf(0x0a, at);
    if (eol < 0) break;
    const header = bytes.subarray(at, eol).toString('utf8');
    at = eol + 1;
    const match = /^[0-9a-f]+ (\w+) (\d+)$/.exec(header);
    if (!match) continue; // "<spec> missing" (or ambiguous): nothing follows
    const size = Number(match[2]);
    if (match[1] === 'blob') out.set(spec, bytes.subarray(at, at + size).toString('utf8'));
    at += size + 1;
  }
  return out;
}

/** Reads a ref of a bare repository from its files (loose, then packed-refs); undefined means "ask git". */
async function readRef(gitDir: string, ref: string): Promise<string | undefined> {
  const loose = await readFile(join(gitDir, ref), 'utf8').catch(() => undefined);
  if (loose !== undefined) return /^[0-9a-f]{40}([0-9a-f]{24})?$/.test(loose.trim()) ? loose.trim() : undefined;
  const packed = await readFile(join(gitDir, 'packed-refs'), 'utf8').catch(() => '');
  const line = packed.split('\n').find((l) => l.endsWith(` ${ref}`) && /^[0-9a-f]{40}([0-9a-f]{24})? /.test(l));
  return line?.slice(0, line.indexOf(' '));
}

const toState = (text: string): ImageState[] => readImages(text).map((e) => ({ name: e.name, newName: e.newName, tag: e.newTag, digest: e.digest }));

/** Reads overlays at the GitOps branch head through a bare mirror fetched on demand. */
export function createRepoReader(options: ReaderOptions): RepoReader {
  const { dir, branch, access } = options;
  const ref = `refs/hoist/${branch}`;
  let runnerPromise: Promise<GitRunner> | undefined;
  let chain: Promise<unknown> = Promise.resolve();

  const git = async (): Promise<GitRunner> => {
    if (!existsSync(join(dir, 'HEAD'))) {
      await mkdir(dir, { recursive: true });
      const runner = await (runnerPromise ??= createGitRunner(dir, options));
      await runner.run(['init', '--bare', '--quiet']);
    }
    return (runnerPromise ??= createGitRunner(dir, options));
  };

  const fetchHead = async (): Promise<{ g: GitRunner; commit: string }> => {
    const g = await git();
    try {
      await g.run(['fetch', '--quiet', '--no-tags', access.url, `+refs/heads/${branch}:${ref}`]);
    } catch (error) {
      throw toGitError('reading the GitOps branch', error, access);
    }
    return { g, commit: (await readRef(dir, ref)) ?? (await g.run(['rev-parse', ref])).trim() };
  };

  /** The first kustomization file kustomize would read in each path, at `rev` (one git process for all). */
  const kustomizations = async (g: GitRunner, rev: string, paths: readonly string[]): Promise<Map<string, string | undefined>> => {
    const blobs = await readBlobs(g, paths.flatMap((path) => KUSTOMIZATION_FILES.map((name) => `${rev}:${path}/${name}`)));
    return new Map(paths.map((path) => [path, KUSTOMIZATION_FILES.map((name) => blobs.get(`${rev}:${path}/${name}`)).find((t) => t !== undefined)]));
  };

  const read = async (paths: Readonly<Record<string, string>>): Promise<EnvironmentSnapshot> => {
    const { g, commit } = await fetchHead();
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
    return { commit, environments };
  };

  const readHistory = async (limit: number): Promise<CommitRecord[]> => {
    const { g, commit } = await fetchHead();
    const out = await g.run(['log', `-n${limit}`, '--grep=^Hoist-App: ', '--format=%H%x1f%cI%x1f%B%x1e', commit]);
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
        const text = (await kustomizations(await git(), rev, [path])).get(path);
        return text === undefined ? undefined : toState(text);
      }).catch(() => undefined),
  };
}
