import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createGitRunner, toGitError, type GitRunner, type GitSetup } from './git.js';

export interface Workspace {
  readonly dir: string;
  /**
   * Brings the clone to exactly the remote branch head, whatever a crash left behind. With `optimistic`, a
   * clone that is as this process left it, right after its own successful push, is taken as the remote head
   * without a fetch: `push()` is a compare-and-swap on that head, so if anyone else pushed meanwhile the push
   * is refused (`rejected_non_fast_forward`) and the next sync fetches. `fetched` says which it was: a
   * decision that ends in no push (nothing to change) is only sure after a fetch.
   */
  sync(options?: { optimistic?: boolean }): Promise<{ fetched: boolean }>;
  readFile(relPath: string): Promise<string | undefined>;
  writeFile(relPath: string, text: string): Promise<void>;
  /** Commits the given files on top of the synced head; returns the new commit. */
  commit(message: string, files: readonly string[]): Promise<string>;
  /** Pushes HEAD to the branch only if the remote is still at the head this clone was synced to. */
  push(): Promise<void>;
  /** Pushes HEAD to `refs/heads/<branch>` of origin (a merge request's source branch), forced when asked. */
  pushTo(branch: string, options: { force: boolean }): Promise<void>;
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

/** Reads a ref as git's files backend stores it (loose file, then packed-refs); undefined means "ask git". */
async function readRef(gitDir: string, ref: string, depth = 0): Promise<string | undefined> {
  const loose = await readFile(join(gitDir, ref), 'utf8').catch(() => undefined);
  if (loose !== undefined) {
    const value = loose.trim();
    if (/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(value)) return value;
    const symbolic = /^ref: (refs\/\S+)$/.exec(value);
    return symbolic && depth < 4 ? readRef(gitDir, symbolic[1] as string, depth + 1) : undefined;
  }
  if (ref === 'HEAD') return undefined;
  const packed = await readFile(join(gitDir, 'packed-refs'), 'utf8').catch(() => '');
  const line = packed.split('\n').find((l) => l.endsWith(` ${ref}`) && /^[0-9a-f]{40}([0-9a-f]{24})? /.test(l));
  return line?.slice(0, line.indexOf(' '));
}

/** `git log -- <path>` semantics: a changed file is within a path when it is that file or below that directory. */
const within = (file: string, path: string) => file === path || file.startsWith(`${path}/`);

/** The message as git stores it after `commit -m` (cleanup mode "whitespace"), as `log --format=%B` prints it. */
const storedMessage = (message: string) =>
  `${message.split('\n').map((line) => line.trimEnd()).join('\n').replace(/\n{3,}/g, '\n\n').replace(/^\n+|\n+$/g, '')}\n`;

/** What git says about a commit's tree, as far as we asked: object ids (null: absent) and directory listings. */
interface TreeMemo {
  ids: Map<string, string | null>;
  listings: Map<string, string[]>;
}

/**
 * A persistent clone of the GitOps branch. Only the holder of the repo's write lock may use it, so
 * every sync can recover by force (locks, detached HEAD, dirty tree, unpushed commits).
 *
 * Each git process costs a fork of this (large) process, so the clone remembers what it knows: the
 * commit it left HEAD at, whether anything but its own writes can have touched the tree, and what git
 * answered about the current head (object ids, listings, recent messages). A sync that finds the
 * clone as it left it and the remote where it pushed it runs one process (fetch); a commit of ours
 * carries those answers over to the new head for the paths it did not touch.
 */
export function createWorkspace(options: WorkspaceOptions): Workspace {
  const { dir, branch, access } = options;
  const gitDir = join(dir, '.git');
  const remoteRef = `refs/remotes/origin/${branch}`;
  /** Present while files written by a Hoist process may differ from HEAD: the next sync must reset and clean. */
  const uncommittedMarker = join(gitDir, 'hoist-uncommitted');
  let runner: Promise<GitRunner> | undefined;
  /** A git process of ours failed (or none ran yet in this process): it may have left lock files and a half-done tree. */
  let suspect = true;
  /** The remote head as of our own last successful push (nothing else known to have moved it since). */
  let pushedHead: string | undefined;
  /** Commits made by this instance, to let git's auto maintenance run on a few of them. */
  let commitCount = 0;
  const git = async (args: readonly string[]) => {
    try {
      return await (await (runner ??= createGitRunner(dir, options))).run(args);
    } catch (error) {
      suspect = true;
      pushedHead = undefined;
      throw error;
    }
  };
  // Check the remote URL once per process, not per write.
  let remoteChecked = false;
  /** HEAD as this instance left it, and whether the tree is known to hold nothing but HEAD and `written`. */
  let head: string | undefined;
  let trusted = false;
  /** The remote branch head at the last sync. */
  let remoteHead: string | undefined;
  /** Texts of files read at `head` before any write, and texts written since the last sync or commit. */
  const readAtHead = new Map<string, string>();
  const written = new Map<string, string>();
  const trees = new Map<string, TreeMemo>();
  /** recentMessages answers at remote head `at`, keyed by limit and path. */
  let history: { at: string; byKey: Map<string, Array<{ commit: string; message: string }>> } | undefined;
  /** Our newest commit: if the remote head becomes it, the history answers can be extended without git. */
  let lastCommit: { commit: string; parent: string; message: string; files: string[]; changed: string[] | undefined } | undefined;

  const treeAt = (commit: string): TreeMemo => {
    let memo = trees.get(commit);
    if (!memo) {
      memo = { ids: new Map(), listings: new Map() };
      trees.set(commit, memo);
    }
    return memo;
  };

  const localHead = async (): Promise<string | undefined> => {
    const symbolic = (await readFile(join(gitDir, 'HEAD'), 'utf8').catch(() => '')).trim();
    return symbolic === `ref: refs/heads/${branch}` ? readRef(gitDir, `refs/heads/${branch}`) : undefined;
  };

  const clone = async () => {
    trusted = false;
    head = undefined;
    await rm(dir, { recursive: true, force: true });
    await mkdir(dirname(dir), { recursive: true });
    await mkdir(dir, { recursive: true });
    try {
      await git(['clone', '--quiet', '--no-tags', '--single-branch', '--branch', branch, '--', access.url, '.']);
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw toGitError('cloning the GitOps repository', error, access);
    }
    remoteChecked = true;
    trusted = true;
    head = await localHead();
  };

  /** Moves the recentMessages answers to the new remote head: extended by our own commit, else forgotten. */
  const advanceHistory = (fetched: string) => {
    if (!history || history.at === fetched) return;
    const ours = lastCommit;
    if (!ours || ours.commit !== fetched || ours.parent !== history.at) {
      history = undefined;
      return;
    }
    for (const [key, messages] of history.byKey) {
      const separator = key.indexOf('\0');
      const limit = Number(key.slice(0, separator));
      const path = key.slice(separator + 1);
      if (!ours.files.some((f) => within(f, path))) continue;
      if (ours.changed === undefined) history.byKey.delete(key);
      else if (ours.changed.some((f) => within(f, path))) {
        messages.unshift({ commit: ours.commit, message: ours.message });
        messages.splice(limit);
      }
    }
    history.at = fetched;
  };

  /** After a sync: the clone is at `at`, which is the remote head as far as we know; older answers go. */
  const settleAt = (at: string | undefined) => {
    written.clear();
    readAtHead.clear();
    head = at;
    remoteHead = at;
    if (at) advanceHistory(at);
    else history = undefined;
    // Keep the answers for this head and for our last commit (a merge request's, made on top of it).
    for (const commit of [...trees.keys()]) if (commit !== head && commit !== lastCommit?.commit) trees.delete(commit);
  };

  return {
    dir,
    async sync(syncOptions = {}) {
      if (!existsSync(join(gitDir, 'HEAD'))) await clone();
      // Only a git process that died (killed, crashed) leaves locks; ours report that by failing.
      const recovering = suspect;
      const skipFetch =
        syncOptions.optimistic === true && !recovering && trusted && remoteChecked && head !== undefined && pushedHead === head &&
        written.size === 0 && !existsSync(uncommittedMarker) && (await localHead()) === head;
      if (skipFetch) {
        // One fetch fewer per promotion; the push's lease catches anyone who pushed since.
        settleAt(head);
        return { fetched: false };
      }
      pushedHead = undefined;
      if (recovering) await removeStaleLocks(gitDir);
      suspect = false;
      try {
        if (!remoteChecked) {
          const current = (await git(['remote', 'get-url', 'origin']).catch(() => '')).trim();
          if (current !== access.url) await git(['remote', 'set-url', 'origin', access.url]);
          remoteChecked = true;
        }
        await git(['fetch', '--quiet', '--no-tags', '--prune', 'origin', `+refs/heads/${branch}:${remoteRef}`]);
      } catch (error) {
        throw toGitError('fetching the GitOps branch', error, access);
      }
      let fetched = (await readRef(gitDir, remoteRef)) ?? (await git(['rev-parse', '--verify', remoteRef]).catch(() => '')).trim();
      const local = await localHead();
      // As we left it: on the branch at the commit we know, and no write of any Hoist process pending.
      const asLeft = !recovering && trusted && local !== undefined && local === head && !existsSync(uncommittedMarker);
      try {
        if (!asLeft) {
          if (!recovering) await removeStaleLocks(gitDir);
          // checkout --force -B resets the branch, index and tracked files to the remote head in one go.
          await git(['checkout', '--quiet', '--force', '-B', branch, remoteRef]);
          const status = await git(['status', '--porcelain', '--ignored', '--untracked-files=all']);
          if (status.trim() !== '') await git(['clean', '-ffdx']);
          await rm(uncommittedMarker, { force: true });
        } else if (local !== fetched) {
          await git(['checkout', '--quiet', '--force', '-B', branch, remoteRef]);
        }
        trusted = true;
      } catch {
        // The clone itself is broken beyond a reset: start over once.
        remoteChecked = false;
        await clone();
        fetched = (await readRef(gitDir, remoteRef)) ?? '';
      }
      if (fetched) settleAt(fetched);
      else {
        // An empty remote branch: HEAD is whatever the clone holds, and there is no remote head to know.
        settleAt(undefined);
        head = await localHead();
      }
      return { fetched: true };
    },
    async readFile(relPath) {
      let text: string;
      try {
        text = await readFile(join(dir, relPath), 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
        throw error;
      }
      if (trusted && !written.has(relPath)) readAtHead.set(relPath, text);
      return text;
    },
    async writeFile(relPath, text) {
      const back = readAtHead.get(relPath) === text;
      if (!back && written.size === 0) await writeFile(uncommittedMarker, '');
      await writeFile(join(dir, relPath), text);
      if (back) written.delete(relPath);
      else written.set(relPath, text);
      if (written.size === 0) await rm(uncommittedMarker, { force: true });
    },
    async commit(message, files) {
      const parent = head;
      // --untracked-files=no: commit otherwise scans the whole tree for untracked files (9 ms of 18 in a
      // 1,000-app repository), which a commit of named paths never needs. git starts `maintenance run --auto`
      // after every commit (~3 ms for a process that finds nothing to do): let it look every 100th commit.
      commitCount++;
      const maintenance = commitCount % 100 === 0 ? [] : ['-c', 'maintenance.auto=false'];
      const commitArgs = ['-c', 'commit.gpgsign=false', ...maintenance, 'commit', '--quiet', '--no-verify', '--untracked-files=no', '-m', message];
      try {
        // With paths, commit stages exactly those files itself: one process instead of add + commit.
        await git([...commitArgs, '--', ...files]);
      } catch (error) {
        // A path git does not track yet needs an explicit add.
        if (!/did not match any file/.test((error as Error).message)) throw error;
        await git(['add', '--', ...files]);
        await git(commitArgs);
      }
      const commit = (await readRef(gitDir, 'HEAD')) ?? (await git(['rev-parse', 'HEAD'])).trim();
      const known = files.every((f) => written.has(f) && readAtHead.has(f));
      const changed = known ? files.filter((f) => written.get(f) !== readAtHead.get(f)) : undefined;
      lastCommit = parent ? { commit, parent, message: storedMessage(message), files: [...files], changed } : undefined;
      const before = parent ? trees.get(parent) : undefined;
      if (before) {
        const ids = new Map([...before.ids].filter(([path]) => !files.some((f) => within(f, path))));
        // A listing stays true when the commit only changed entries it already lists.
        const listings = new Map(
          [...before.listings].filter(([listed, names]) =>
            files.every((f) => !f.startsWith(`${listed}/`) || names.includes(`${listed}/${f.slice(listed.length + 1).split('/')[0] as string}`)),
          ),
        );
        trees.set(commit, { ids, listings });
      }
      for (const f of files) {
        const text = written.get(f);
        if (text !== undefined) readAtHead.set(f, text);
        else readAtHead.delete(f);
        written.delete(f);
      }
      if (written.size === 0) await rm(uncommittedMarker, { force: true });
      head = commit;
      return commit;
    },
    async push() {
      // The lease makes the push a compare-and-swap on the head we built on: refused if anyone moved the
      // branch since (forward, or back by a force push), never overwriting their work. Our commit descends
      // from that head, so what reaches the server is a fast-forward: protected branches accept it.
      const lease = remoteHead ? [`--force-with-lease=refs/heads/${branch}:${remoteHead}`] : [];
      try {
        await git(['push', '--porcelain', ...lease, 'origin', `HEAD:refs/heads/${branch}`]);
      } catch (error) {
        throw toGitError('pushing to the GitOps branch', error, access);
      }
      pushedHead = head;
    },
    async pushTo(target, { force }) {
      try {
        await git(['push', '--porcelain', ...(force ? ['--force'] : []), 'origin', `HEAD:refs/heads/${target}`]);
      } catch (error) {
        throw toGitError(`pushing to branch ${target}`, error, access);
      }
    },
    async objectIds(paths) {
      const out = new Map<string, string>();
      const wanted = [...new Set(paths.map((p) => p.replace(/\/+$/, '')))];
      if (wanted.length === 0) return out;
      const memo = head ? treeAt(head) : undefined;
      const unknown = memo ? wanted.filter((p) => !memo.ids.has(p)) : wanted;
      if (unknown.length > 0) {
        const found = new Map<string, string>();
        const listing = await git(['ls-tree', '-z', '--full-name', 'HEAD', '--', ...unknown]);
        for (const record of listing.split('\0')) {
          const match = /^\d+ \w+ ([0-9a-f]+)\t(.+)$/s.exec(record);
          if (match) found.set(match[2] as string, match[1] as string);
        }
        for (const p of unknown) memo?.ids.set(p, found.get(p) ?? null);
        if (!memo) for (const [p, id] of found) if (unknown.includes(p)) out.set(p, id);
      }
      if (memo) {
        for (const p of wanted) {
          const id = memo.ids.get(p);
          if (id) out.set(p, id);
        }
      }
      return out;
    },
    async listFiles(listed) {
      const key = listed.replace(/\/+$/, '');
      const memo = head ? treeAt(head) : undefined;
      const known = memo?.listings.get(key);
      if (known) return [...known];
      const listing = await git(['ls-tree', '-z', '--full-name', '--name-only', 'HEAD', '--', `${key}/`]);
      const names = listing.split('\0').filter(Boolean);
      memo?.listings.set(key, names);
      return [...names];
    },
    async recentMessages(relPath, limit) {
      const key = `${limit}\0${relPath}`;
      if (remoteHead && history?.at !== remoteHead) history = { at: remoteHead, byKey: new Map() };
      const known = remoteHead ? history?.byKey.get(key) : undefined;
      if (known) return known.map((m) => ({ ...m }));
      const out = await git(['log', `-n${limit}`, '--format=%H%x1f%B%x1e', remoteRef, '--', relPath]);
      const messages = out
        .split('\x1e')
        .map((record) => record.replace(/^\n+/, ''))
        .filter((record) => record.includes('\x1f'))
        .map((record) => {
          const [commit = '', message = ''] = record.split('\x1f');
          return { commit, message };
        });
      if (remoteHead) history?.byKey.set(key, messages.map((m) => ({ ...m })));
      return messages;
    },
    async findPromotionCommit(promotionId, since) {
      const out = await git([
        'log', '--format=%H', '-n', '1', '--fixed-strings', `--grep=Hoist-Promotion: ${promotionId}`,
        `--since=${Math.floor(since.getTime() / 1000)}`, remoteRef,
      ]);
      return out.trim() || undefined;
    },
  };
}
