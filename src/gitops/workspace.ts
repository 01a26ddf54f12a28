import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { SimpleGit } from 'simple-git';
import { createGit, toGitError, type GitSetup } from './git.js';

export interface Workspace {
  readonly dir: string;
  /** Brings the clone to exactly the remote branch head, whatever a crash left behind. */
  sync(): Promise<void>;
  readFile(relPath: string): Promise<string | undefined>;
  writeFile(relPath: string, text: string): Promise<void>;
  /** Commits the given files on top of the synced head; returns the new commit. */
  commit(message: string, files: readonly string[]): Promise<string>;
  push(): Promise<void>;
  /** Git object ids at the synced head for these paths (files or directories); absent ones are left out. */
  objectIds(paths: readonly string[]): Promise<Map<string, string>>;
  /** Files directly inside a directory at the synced head. */
  listFiles(dir: string): Promise<string[]>;
  /** Messages of the newest commits on the remote branch that touched `relPath`, newest first. */
  recentMessages(relPath: string, limit: number): Promise<Array<{ commit: string; message: string }>>;
  /** The commit on the remote branch whose message carries `Hoist-Promotion: <id>`, if any. */
  findPromotionCommit(promotionId: string, since: Date): Promise<string | undefined>;
}

export interface WorkspaceOptions extends GitSetup {
  dir: string;
  branch: string;
}

/** Stale lock files from a killed git process would block every later command. */
async function removeStaleLocks(gitDir: string): Promise<void> {
  const walk = async (dir: string, depth: number): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory() && depth < 6 && entry.name !== 'objects') await walk(path, depth + 1);
      else if (entry.isFile() && entry.name.endsWith('.lock')) await unlink(path).catch(() => undefined);
    }
  };
  await walk(gitDir, 0);
}

/**
 * A persistent clone of the GitOps branch. Only the holder of the repo's write lock may use it, so
 * every sync can recover by force (locks, detached HEAD, dirty tree, unpushed commits).
 */
export function createWorkspace(options: WorkspaceOptions): Workspace {
  const { dir, branch, access } = options;
  const remoteRef = `refs/remotes/origin/${branch}`;
  let gitPromise: Promise<SimpleGit> | undefined;
  const git = () => (gitPromise ??= createGit(dir, options));
  // Each git process costs a fork of this one: check the remote URL once per process, not per write.
  let remoteChecked = false;

  const clone = async () => {
    await rm(dir, { recursive: true, force: true });
    await mkdir(dirname(dir), { recursive: true });
    await mkdir(dir, { recursive: true });
    const g = await git();
    try {
      await g.raw(['clone', '--no-tags', '--single-branch', '--branch', branch, '--', access.url, '.']);
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw toGitError('cloning the GitOps repository', error, access);
    }
  };

  return {
    dir,
    async sync() {
      if (!existsSync(join(dir, '.git', 'HEAD'))) await clone();
      const g = await git();
      await removeStaleLocks(join(dir, '.git'));
      try {
        // Every command here prints something: simple-git waits 50 ms after a git process that stays silent.
        if (!remoteChecked) {
          const current = (await g.raw(['remote', 'get-url', 'origin']).catch(() => '')).trim();
          if (current !== access.url) await g.raw(['remote', 'set-url', 'origin', access.url]);
          remoteChecked = true;
        }
        await g.raw(['fetch', '--verbose', '--no-tags', '--prune', 'origin', `+refs/heads/${branch}:${remoteRef}`]);
      } catch (error) {
        throw toGitError('fetching the GitOps branch', error, access);
      }
      try {
        // checkout --force -B resets the branch, index and tracked files to the remote head in one go.
        await g.raw(['checkout', '--force', '-B', branch, remoteRef]);
        const status = await g.raw(['status', '--porcelain', '--branch', '--ignored', '--untracked-files=all']);
        if (status.split('\n').some((line) => line !== '' && !line.startsWith('##'))) await g.raw(['clean', '-ffdx']);
      } catch {
        // The clone itself is broken beyond a reset: start over once.
        remoteChecked = false;
        await clone();
      }
    },
    async readFile(relPath) {
      try {
        return await readFile(join(dir, relPath), 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
        throw error;
      }
    },
    async writeFile(relPath, text) {
      await writeFile(join(dir, relPath), text);
    },
    async commit(message, files) {
      const g = await git();
      await g.raw(['add', '--verbose', '--', ...files]);
      await g.raw(['-c', 'commit.gpgsign=false', 'commit', '--no-verify', '-m', message]);
      return (await g.raw(['rev-parse', 'HEAD'])).trim();
    },
    async push() {
      const g = await git();
      try {
        await g.raw(['push', '--porcelain', 'origin', `HEAD:refs/heads/${branch}`]);
      } catch (error) {
        throw toGitError('pushing to the GitOps branch', error, access);
      }
    },
    async objectIds(paths) {
      const out = new Map<string, string>();
      if (paths.length === 0) return out;
      const g = await git();
      const listing = await g.raw(['ls-tree', '--full-name', 'HEAD', '--', ...paths.map((p) => p.replace(/\/+$/, ''))]);
      for (const line of listing.split('\n')) {
        const match = /^\d+ \w+ ([0-9a-f]+)\t(.+)$/.exec(line);
        if (match) out.set(match[2] as string, match[1] as string);
      }
      return out;
    },
    async listFiles(dir) {
      const g = await git();
      const listing = await g.raw(['ls-tree', '--full-name', '--name-only', 'HEAD', '--', `${dir.replace(/\/+$/, '')}/`]);
      return listing.split('\n').filter(Boolean);
    },
    async recentMessages(relPath, limit) {
      const g = await git();
      const out = await g.raw(['log', `-n${limit}`, '--format=%H%x1f%B%x1e', remoteRef, '--', relPath]);
      return out
        .split('\x1e')
        .map((record) => record.replace(/^\n+/, ''))
        .filter((record) => record.includes('\x1f'))
        .map((record) => {
          const [commit = '', message = ''] = record.split('\x1f');
          return { commit, message };
        });
    },
    async findPromotionCommit(promotionId, since) {
      const g = await git();
      const out = await g.raw([
        'log', '--format=%H', '-n', '1', '--fixed-strings', `--grep=Hoist-Promotion: ${promotionId}`,
        `--since=${Math.floor(since.getTime() / 1000)}`, remoteRef,
      ]);
      return out.trim() || undefined;
    },
  };
}
