import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import type { LandedGroup } from '../domain/ports.js';
import { HoistError, isHoistError } from '../errors.js';
import { createGitRunner, toGitError, type GitRunner, type GitSetup } from './git.js';
import { commitPayload, encodeTree, formatOfId, isTreeMode, objectId, parseCommit, parseTree, withSignature, type ObjectFormat, type TreeEntry } from './git-objects.js';
import { readObjects, writeLooseObjects, type NewObject } from './object-store.js';
import { infoOf, readHistory, type CommitVerifier } from './signed-history.js';
import { signSsh, type SigningKey } from './ssh-signature.js';

export interface Workspace {
  readonly dir: string;
  /**
   * Brings the clone to exactly the remote branch head, whatever a crash or a fault left behind (lock files, a dirty
   * or damaged tree, a broken object store: the last one is deleted and cloned again). With `optimistic`, a clone
   * that is as this process left it right after its own successful push is taken as the remote head without a fetch:
   * `push()` is a compare-and-swap on that head, so if anyone else pushed meanwhile the push is refused and the next
   * sync fetches. `pushedHead`, the head another process of Hoist may have pushed since, fetches at once when it is not
   * ours. `fetched` says which it was: a decision that ends in no push is only sure after a fetch.
   */
  sync(options?: { optimistic?: boolean; pushedHead?: string | undefined }): Promise<{ fetched: boolean }>;
  /** A file's text at the synced head, from git's object store (never the working tree); undefined when absent. */
  readFile(relPath: string): Promise<string | undefined>;
  /** Writes a file into the working tree for the render check. Commits never read the working tree. */
  writeFile(relPath: string, text: string): Promise<void>;
  /** Puts the working tree back to the synced head (it may be damaged), then writes again what was written since. */
  restore(): Promise<void>;
  /**
   * Builds and signs a commit on the synced head that changes exactly these files to exactly these texts, and
   * nothing else. It is not on the branch until `push` (or `pushTo`) succeeds.
   */
  commit(message: string, files: ReadonlyArray<{ path: string; text: string }>): Promise<string>;
  /** Pushes the commit to the branch only if the remote is still at the head it was built on; then it is the head. */
  push(commit: string): Promise<void>;
  /** Pushes the commit to `refs/heads/<branch>` of origin (a merge request's source branch), forced when asked. */
  pushTo(commit: string, branch: string, options: { force: boolean }): Promise<void>;
  /** Git object ids at the synced head for these paths (files or directories); absent ones are left out. */
  objectIds(paths: readonly string[]): Promise<Map<string, string>>;
  /** Entries directly inside a directory at the synced head. */
  listFiles(dir: string): Promise<string[]>;
  /** Whether a path at the synced head is a file, a directory, or absent. */
  kindOf(relPath: string): Promise<'file' | 'dir' | undefined>;
  /** Trailer groups of Hoist's own (signed) commits on the remote branch that touched `relPath`, newest first. */
  recentLandings(relPath: string, limit: number): Promise<LandedGroup[]>;
  /** Hoist's own (signed) commit on the remote branch that carries `Hoist-Promotion: <id>`, if any. */
  findPromotionCommit(promotionId: string, since: Date): Promise<string | undefined>;
}

export interface WorkspaceOptions extends GitSetup {
  dir: string;
  branch: string;
  author: { name: string; email: string };
  /** Hoist's signing key (config or the one Hoist keeps in Redis). */
  signingKey(): Promise<SigningKey>;
  verifier: CommitVerifier;
  now?: () => Date;
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

/** The message as git stores it after `commit -m` (cleanup mode "whitespace"). */
export const storedMessage = (message: string) =>
  `${message.split('\n').map((line) => line.trimEnd()).join('\n').replace(/\n{3,}/g, '\n\n').replace(/^\n+|\n+$/g, '')}\n`;

/** '' for the root, then each directory down to the one holding `path`. */
function directoriesOf(path: string): string[] {
  const parts = path.split('/').slice(0, -1);
  return ['', ...parts.map((_, i) => parts.slice(0, i + 1).join('/'))];
}

const parentOf = (path: string) => (path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '');
const nameOf = (path: string) => path.slice(path.lastIndexOf('/') + 1);

/** A filesystem failure inside HOIST_DATA_DIR as a HoistError: a full disk and interruptions are worth a retry. */
function localFailure(action: string, error: unknown): HoistError {
  if (isHoistError(error)) return error;
  const code = (error as NodeJS.ErrnoException).code ?? '';
  const message = (error as Error).message;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new HoistError('git_transient', `${action} failed: no space left in HOIST_DATA_DIR (retried): ${message}`, { retryable: true, cause: error, details: { gitFailure: 'disk_full' } });
  }
  // A read-only or unwritable data dir would be the same on the next try.
  const lasting = code === 'EROFS' || code === 'EACCES' || code === 'EPERM';
  return new HoistError('git_transient', `${action} failed: ${message}`, { retryable: !lasting, cause: error, details: { gitFailure: lasting ? 'other' : 'local' } });
}

/** What git answered (or we built) about one commit's trees: directory → entries (null: no such directory). */
type Trees = Map<string, TreeEntry[] | null>;

interface BuiltCommit {
  commit: string;
  parent: string | undefined;
  files: Map<string, string>;
  groups: LandedGroup[];
}

/** Hoist's landings among the newest commits that touched a path, a commit at a time. */
type Landings = Array<{ commit: string; groups: LandedGroup[] }>;

/**
 * A persistent clone of the GitOps branch, kept as a cache of the remote and never as a source: the bytes a commit
 * carries come from git's object store at the commit it builds on plus the editor's output, and the commit object
 * itself is built and signed here (objects/, then a push by id). The working tree only serves the render check.
 * Only the holder of the repo's write lock may use it, so every sync can recover by force.
 *
 * Each git process costs a fork of this (large) process, so the clone remembers what it knows: the commit it left
 * HEAD at, the trees and blobs git told it about, and Hoist's history answers at the current head. A write after
 * our own push runs one process (the push).
 */
export function createWorkspace(options: WorkspaceOptions): Workspace {
  const { dir, branch, access } = options;
  const now = options.now ?? (() => new Date());
  const gitDir = join(dir, '.git');
  const remoteRef = `refs/remotes/origin/${branch}`;
  /** Present while the working tree may differ from the head (files written, not pushed): the next sync resets it. */
  const uncommittedMarker = join(gitDir, 'hoist-uncommitted');
  let runner: Promise<GitRunner> | undefined;
  /** A git process of ours failed (or none ran yet in this process): the tree may be half-done. */
  let suspect = true;
  /** git reported the clone itself broken: the next sync deletes it and clones again. */
  let damaged = false;
  /** The remote head as of our own last successful push (nothing else known to have moved it since). */
  let pushedHead: string | undefined;
  let remoteChecked = false;
  /** The branch ref as this instance left it, and whether the working tree is known to match it (plus `written`). */
  let head: string | undefined;
  let trusted = false;
  /** The remote branch head at the last sync (or our push). */
  let remoteHead: string | undefined;
  /** Files written into the working tree since the tree last matched the head. */
  const written = new Map<string, string>();
  const trees = new Map<string, Trees>();
  /** Blob texts by id: the few kustomization files every promotion reads. */
  const blobs = new Map<string, string>();
  let built: BuiltCommit | undefined;
  /** recentLandings answers at remote head `at`, keyed by limit and path. */
  let history: { at: string; byKey: Map<string, Landings> } | undefined;

  /** Every git failure marks the clone suspect (the next sync recovers it) and, when git says so, damaged. */
  const failed = (action: string, error: unknown, allowRemote: boolean): HoistError => {
    suspect = true;
    pushedHead = undefined;
    const failure = toGitError(action, error, allowRemote ? access : undefined);
    if (failure.details?.gitFailure === 'corrupt') damaged = true;
    return failure;
  };
  const git = async (action: string, args: readonly string[], allowRemote = false): Promise<string> => {
    try {
      return await (await (runner ??= createGitRunner(dir, options))).run(args);
    } catch (error) {
      throw failed(action, error, allowRemote);
    }
  };
  /** The runner object and history reads use, with the same failure handling as every other git call. */
  const gitRunner = async (): Promise<GitRunner> => {
    const base = await (runner ??= createGitRunner(dir, options));
    return {
      run: (args) => git(`git ${args[0] ?? ''}`, args),
      runBytes: (args, input) => base.runBytes(args, input).catch((error: unknown) => Promise.reject(failed(`git ${args[0] ?? ''}`, error, false))),
    };
  };

  const treesAt = (commit: string): Trees => {
    let memo = trees.get(commit);
    if (!memo) {
      memo = new Map();
      trees.set(commit, memo);
    }
    return memo;
  };

  const formatOf = (): ObjectFormat => formatOfId(head ?? '0'.repeat(40));

  /** Makes sure the trees of these directories at `commit` are known (one cat-file for all that are not). */
  const ensureTrees = async (commit: string, dirs: readonly string[], alsoFiles: readonly string[] = []): Promise<Trees> => {
    const memo = treesAt(commit);
    const unknown = [...new Set(dirs)].filter((d) => !memo.has(d));
    if (unknown.length === 0) return memo;
    const spec = (d: string) => (d === '' ? `${commit}^{tree}` : `${commit}:${d}`);
    // Files read along with their trees: the kustomization a promotion needs comes in the same process.
    const fileSpecs = alsoFiles.map((f) => `${commit}:${f}`);
    const objects = await readObjects(await gitRunner(), [...unknown.map(spec), ...fileSpecs]);
    for (const d of unknown) {
      const object = objects.get(spec(d));
      memo.set(d, object?.type === 'tree' ? parseTree(object.body, formatOf()) : null);
    }
    for (const f of fileSpecs) {
      const object = objects.get(f);
      if (object?.type === 'blob') blobs.set(object.id, object.body.toString('utf8'));
    }
    return memo;
  };

  const entryAt = async (commit: string, path: string, alsoFile = false): Promise<TreeEntry | undefined> => {
    const memo = await ensureTrees(commit, directoriesOf(path), alsoFile ? [path] : []);
    return memo.get(parentOf(path))?.find((e) => e.name === nameOf(path));
  };

  const blobText = async (id: string): Promise<string | undefined> => {
    const cached = blobs.get(id);
    if (cached !== undefined) return cached;
    const object = (await readObjects(await gitRunner(), [id])).get(id);
    if (object?.type !== 'blob') return undefined;
    const text = object.body.toString('utf8');
    blobs.set(id, text);
    return text;
  };

  const localHead = async (): Promise<string | undefined> => {
    const symbolic = (await readFile(join(gitDir, 'HEAD'), 'utf8').catch(() => '')).trim();
    return symbolic === `ref: refs/heads/${branch}` ? readRef(gitDir, `refs/heads/${branch}`) : undefined;
  };

  const forget = () => {
    trusted = false;
    head = undefined;
    remoteHead = undefined;
    pushedHead = undefined;
    history = undefined;
    built = undefined;
    trees.clear();
    blobs.clear();
  };

  const clone = async () => {
    forget();
    damaged = false;
    remoteChecked = false;
    await rm(dir, { recursive: true, force: true });
    await mkdir(dirname(dir), { recursive: true });
    await mkdir(dir, { recursive: true }).catch((error: unknown) => {
      throw localFailure('creating the working clone', error);
    });
    try {
      await git('cloning the GitOps repository', ['clone', '--quiet', '--no-tags', '--single-branch', '--branch', branch, '--', access.url, '.'], true);
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
    suspect = false;
    remoteChecked = true;
    trusted = true;
    head = await localHead();
  };

  /** Checks the working tree out at `target` from scratch: tracked files forced back, everything else removed. */
  const resetTree = async (target: string) => {
    await git('resetting the working clone', ['checkout', '--quiet', '--force', '-B', branch, target]);
    const status = await git('checking the working clone', ['status', '--porcelain', '--ignored', '--untracked-files=all']);
    if (status.trim() !== '') {
      await git('cleaning the working clone', ['clean', '-ffdx']);
      const again = await git('checking the working clone', ['status', '--porcelain', '--untracked-files=all']);
      // A tree that stays dirty after a forced checkout and a clean is not one git can fix in place.
      if (again.trim() !== '') {
        damaged = true;
        throw new HoistError('git_transient', `Hoist's working clone stays dirty after a reset (${again.trim().split('\n')[0] ?? ''}); it is cloned again`, { retryable: true, details: { gitFailure: 'corrupt' } });
      }
    }
    await rm(uncommittedMarker, { force: true });
    written.clear();
  };

  /** Moves the recentLandings answers to the new remote head: extended by our own commit, else forgotten. */
  const advanceHistory = (to: string, ours: BuiltCommit | undefined) => {
    if (!history || history.at === to) return;
    if (!ours || ours.commit !== to || ours.parent !== history.at) {
      history = undefined;
      return;
    }
    for (const [key, landed] of history.byKey) {
      const separator = key.indexOf('\0');
      const limit = Number(key.slice(0, separator));
      const path = key.slice(separator + 1);
      if (![...ours.files.keys()].some((f) => within(f, path))) continue;
      landed.unshift({ commit: ours.commit, groups: ours.groups });
      landed.splice(limit);
    }
    history.at = to;
  };

  /** After a sync: the clone is at `at`, the remote head as far as we know; answers about older heads go. */
  const settleAt = (at: string | undefined) => {
    head = at;
    remoteHead = at;
    if (!at) history = undefined;
    else if (history && history.at !== at) history = undefined;
    for (const commit of [...trees.keys()]) if (commit !== head) trees.delete(commit);
    if (blobs.size > 256) blobs.clear();
  };

  const writeWorking = async (relPath: string, text: string) => {
    try {
      if (written.size === 0) await writeFile(uncommittedMarker, '');
      const file = join(dir, relPath);
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, text);
    } catch (error) {
      suspect = true;
      throw localFailure(`writing ${relPath} in the working clone`, error);
    }
  };

  const sync: Workspace['sync'] = async (syncOptions = {}) => {
    if (damaged || !existsSync(join(gitDir, 'HEAD'))) await clone();
    const skipFetch =
      syncOptions.optimistic === true && !suspect && trusted && remoteChecked && head !== undefined && pushedHead === head &&
      (syncOptions.pushedHead === undefined || syncOptions.pushedHead === head) &&
      written.size === 0 && !existsSync(uncommittedMarker) && (await localHead()) === head;
    if (skipFetch) return { fetched: false };
    const recovering = suspect;
    pushedHead = undefined;
    // We hold the repo's write lock and none of our git processes is running: any lock file is stale.
    await removeStaleLocks(gitDir);
    const attempt = async () => {
      if (!remoteChecked) {
        const current = (await git('reading the remote URL', ['remote', 'get-url', 'origin']).catch(() => '')).trim();
        if (current !== access.url) await git('setting the remote URL', ['remote', 'set-url', 'origin', access.url]);
        remoteChecked = true;
      }
      await git('fetching the GitOps branch', ['fetch', '--quiet', '--no-tags', '--prune', 'origin', `+refs/heads/${branch}:${remoteRef}`], true);
      const fetched = (await readRef(gitDir, remoteRef)) ?? (await git('reading the fetched head', ['rev-parse', '--verify', remoteRef]).catch(() => '')).trim();
      const local = await localHead();
      // As we left it: on the branch at the commit we know, nothing written since, no Hoist process left it dirty.
      const asLeft = !recovering && trusted && local !== undefined && local === head && written.size === 0 && !existsSync(uncommittedMarker);
      if (fetched && !asLeft) await resetTree(fetched);
      // Someone else pushed: the tree is clean but for our known writes (none), so a forced checkout is enough.
      else if (fetched && local !== fetched) await git('checking out the fetched head', ['checkout', '--quiet', '--force', '-B', branch, fetched]);
      suspect = false;
      trusted = true;
      return fetched || undefined;
    };
    let fetched: string | undefined;
    try {
      fetched = await attempt();
    } catch (error) {
      // A broken object store, or a tree no reset can clean: delete it and clone again, once.
      if (!damaged) throw error;
      await clone();
      fetched = await attempt();
    }
    settleAt(fetched ?? (await localHead()));
    if (!fetched) remoteHead = undefined; // an empty remote branch
    return { fetched: true };
  };

  return {
    dir,
    sync,
    async readFile(relPath) {
      if (!head) return undefined;
      const entry = await entryAt(head, relPath, true);
      if (!entry || isTreeMode(entry.mode)) return undefined;
      return blobText(entry.id);
    },
    async writeFile(relPath, text) {
      await writeWorking(relPath, text);
      written.set(relPath, text);
    },
    async restore() {
      const target = head ?? (await localHead());
      if (!target) return;
      const pending = [...written];
      await removeStaleLocks(gitDir);
      await resetTree(target);
      for (const [path, text] of pending) {
        await writeWorking(path, text);
        written.set(path, text);
      }
    },
    async commit(message, files) {
      const parent = head;
      const format = formatOf();
      const changes = new Map(files.map((f) => [f.path.replace(/^\/+/, ''), f.text]));
      if (changes.size === 0) throw new HoistError('internal', 'a commit needs at least one file');
      const base: Trees = parent ? await ensureTrees(parent, [...changes.keys()].flatMap(directoriesOf)) : new Map([['', []]]);
      const next: Trees = new Map(base);
      const objects: NewObject[] = [];
      // Every file: the blob Hoist decided on, in place of the base's entry (same mode), or a new 100644 entry.
      const dirs = new Set<string>();
      for (const [path, text] of changes) {
        const body = Buffer.from(text);
        objects.push({ type: 'blob', body });
        const parentDir = parentOf(path);
        const entries = [...(next.get(parentDir) ?? [])];
        const at = entries.findIndex((e) => e.name === nameOf(path));
        if (at >= 0 && isTreeMode((entries[at] as TreeEntry).mode)) throw new HoistError('internal', `${path} is a directory at the head`);
        const entry = { mode: at >= 0 ? (entries[at] as TreeEntry).mode : '100644', name: nameOf(path), id: objectId('blob', body, format) };
        if (at >= 0) entries[at] = entry;
        else entries.push(entry);
        next.set(parentDir, entries);
        for (const d of directoriesOf(path)) dirs.add(d);
      }
      // Then each touched directory, deepest first, its tree id into its parent.
      let rootId = '';
      for (const d of [...dirs].sort((a, b) => b.split('/').length - a.split('/').length || b.length - a.length)) {
        const body = encodeTree(next.get(d) ?? []);
        objects.push({ type: 'tree', body });
        const id = objectId('tree', body, format);
        if (d === '') {
          rootId = id;
          continue;
        }
        const entries = [...(next.get(parentOf(d)) ?? [])];
        const at = entries.findIndex((e) => e.name === nameOf(d));
        const entry = { mode: '40000', name: nameOf(d), id };
        if (at >= 0) entries[at] = entry;
        else entries.push(entry);
        next.set(parentOf(d), entries);
      }
      // The check before anything is pushed: exactly the intended files changed, each to exactly its text.
      for (const d of dirs) {
        const before = new Map((base.get(d) ?? []).map((e) => [e.name, e.id]));
        for (const e of next.get(d) ?? []) {
          const path = d === '' ? e.name : `${d}/${e.name}`;
          const intended = changes.has(path) || dirs.has(path);
          if (before.get(e.name) !== e.id && !intended) throw new HoistError('internal', `refusing to commit: ${path} would change although no edit is meant for it`);
          if (changes.has(path) && e.id !== objectId('blob', Buffer.from(changes.get(path) as string), format)) throw new HoistError('internal', `refusing to commit: ${path} would not carry the edited text`);
        }
        for (const name of before.keys()) if (!(next.get(d) ?? []).some((e) => e.name === name)) throw new HoistError('internal', `refusing to commit: ${d}/${name} would disappear`);
      }
      const key = await options.signingKey();
      const who = { name: options.author.name, email: options.author.email, time: Math.floor(now().getTime() / 1000), zone: '+0000' };
      const payload = commitPayload({ tree: rootId, parents: parent ? [parent] : [], author: who, committer: who, message: storedMessage(message) });
      const body = withSignature(payload, signSsh(payload, key), format);
      objects.push({ type: 'commit', body });
      try {
        await writeLooseObjects(gitDir, objects, format);
      } catch (error) {
        throw localFailure('writing the commit into the working clone', error);
      }
      const commit = objectId('commit', body, format);
      trees.set(commit, next);
      // The next promotion reads these files at this commit: their texts are known, no cat-file needed.
      for (const [path, text] of changes) {
        const entry = next.get(parentOf(path))?.find((e) => e.name === nameOf(path));
        if (entry) blobs.set(entry.id, text);
      }
      // Hoist signed it: its verdict is known without reading it back.
      const info = infoOf(commit, parseCommit(body), 'signed');
      options.verifier.remember(info);
      built = { commit, parent, files: changes, groups: info.groups };
      return commit;
    },
    async push(commit) {
      // The lease makes the push a compare-and-swap on the head we built on: refused if anyone moved the branch
      // since (forward, or back by a force push), never overwriting their work. The commit descends from that
      // head, so what reaches the server is a fast-forward: protected branches accept it.
      const lease = remoteHead ? [`--force-with-lease=refs/heads/${branch}:${remoteHead}`] : [];
      await git('pushing to the GitOps branch', ['push', '--porcelain', ...lease, 'origin', `${commit}:refs/heads/${branch}`], true);
      const ours = built?.commit === commit ? built : undefined;
      // The branch ref follows, as `git commit` would have moved it: written the way git writes refs (temp, rename).
      try {
        const ref = join(gitDir, 'refs', 'heads', ...branch.split('/'));
        await mkdir(dirname(ref), { recursive: true });
        await writeFile(`${ref}.hoist-tmp`, `${commit}\n`);
        await rename(`${ref}.hoist-tmp`, ref);
      } catch (error) {
        suspect = true;
        throw localFailure('moving the working clone to the pushed commit', error);
      }
      advanceHistory(commit, ours);
      // The working tree matches the new head when every file written since the last sync is the one committed.
      const matches = [...written].every(([path, text]) => ours?.files.get(path) === text);
      if (matches) {
        written.clear();
        await rm(uncommittedMarker, { force: true });
      } else {
        trusted = false;
      }
      head = commit;
      remoteHead = commit;
      pushedHead = commit;
      for (const key of [...trees.keys()]) if (key !== commit) trees.delete(key);
    },
    async pushTo(commit, target, { force }) {
      await git(`pushing to branch ${target}`, ['push', '--porcelain', ...(force ? ['--force'] : []), 'origin', `${commit}:refs/heads/${target}`], true);
    },
    async objectIds(paths) {
      const out = new Map<string, string>();
      if (!head) return out;
      const wanted = [...new Set(paths.map((p) => p.replace(/\/+$/, '')))];
      await ensureTrees(head, wanted.flatMap(directoriesOf));
      for (const p of wanted) {
        const entry = await entryAt(head, p);
        if (entry) out.set(p, entry.id);
      }
      return out;
    },
    async listFiles(listed) {
      const key = listed.replace(/\/+$/, '');
      if (!head) return [];
      const memo = await ensureTrees(head, [...directoriesOf(`${key}/x`)]);
      return (memo.get(key) ?? []).map((e) => (key ? `${key}/${e.name}` : e.name));
    },
    async kindOf(relPath) {
      if (!head) return undefined;
      const path = posix.normalize(relPath).replace(/\/+$/, '');
      if (path === '' || path === '.') return 'dir';
      const entry = await entryAt(head, path);
      return entry === undefined ? undefined : isTreeMode(entry.mode) ? 'dir' : 'file';
    },
    async recentLandings(relPath, limit) {
      const key = `${limit}\0${relPath}`;
      const at = remoteHead;
      if (at && history?.at !== at) history = { at, byKey: new Map() };
      const copy = (landings: Landings) => landings.flatMap((l) => l.groups.map((g) => ({ ...g, approvedBy: [...g.approvedBy] })));
      const known = at ? history?.byKey.get(key) : undefined;
      if (known) return copy(known);
      if (!at) return [];
      const commits = await readHistory(await gitRunner(), options.verifier, { rev: at, paths: [relPath], limit });
      // Outside commits count towards the limit (they are commits that touched the path) but land nothing.
      const landings: Landings = commits.map((c) => ({ commit: c.commit, groups: c.trusted ? c.groups : [] }));
      history?.byKey.set(key, landings);
      return copy(landings);
    },
    async findPromotionCommit(promotionId, since) {
      if (!remoteHead) return undefined;
      const out = await git('looking for a promotion commit', [
        'log', '--format=%H', '--fixed-strings', `--grep=Hoist-Promotion: ${promotionId}`, `--since=${Math.floor(since.getTime() / 1000)}`, remoteHead,
      ]);
      const ids = out.split('\n').map((l) => l.trim()).filter(Boolean);
      if (ids.length === 0) return undefined;
      const infos = await options.verifier.inspect(await gitRunner(), ids);
      // Anyone can write the trailer into a commit; only a commit Hoist signed counts as having landed it.
      return ids.find((id) => {
        const info = infos.get(id);
        return info?.trust === 'signed' && info.groups.some((g) => g.promotion === promotionId);
      });
    },
  };
}
