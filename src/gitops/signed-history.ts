/**
 * History that cannot be forged: a commit counts as Hoist's only when its SSH signature verifies against Hoist's own
 * public key(s) (or, for `write: api` commits, which GitLab's Commits API cannot sign, when its author is Hoist's).
 * Anyone can write `Hoist-*` lines into a commit message; only Hoist holds the key. Every other commit that touched an
 * overlay is an outside change: listed, never believed.
 */
import { posix } from 'node:path';
import type { HistoryCommit, ImageChange, ImageState, LandedGroup, OverlayChange } from '../domain/ports.js';
import { KUSTOMIZATION_FILES, readImages } from '../kustomize/index.js';
import { parseTrailerGroups } from './commit-message.js';
import type { GitRunner } from './git.js';
import { parseCommit, type Identity, type ParsedCommit } from './git-objects.js';
import { readObjects } from './object-store.js';
import { verifySsh, type SshPublicKey } from './ssh-signature.js';

/** How a commit earned trust: Hoist's signature, Hoist's author on an unsigned API commit, or not at all. */
export type Trust = 'signed' | 'author' | 'none';

export interface CommitInfo {
  commit: string;
  parents: string[];
  /** Committer date, ISO 8601. */
  date: string;
  /** `Name <email>` of the author. */
  author: string;
  subject: string;
  trust: Trust;
  /** The trailer groups the message carries; believed only when trusted. */
  groups: LandedGroup[];
}

export interface CommitVerifierOptions {
  /** Hoist's own public key first, then `gitops.trustedKeys` (older keys, for rotation). */
  trustedKeys(): Promise<readonly SshPublicKey[]>;
  /** `write: api` commits are trusted by this author alone (GitLab's Commits API cannot sign). */
  apiAuthor?: { name: string; email: string } | undefined;
  /** Commit verdicts kept in memory (a commit's verdict never changes). */
  capacity?: number;
}

export interface CommitVerifier {
  /** The info and verdict of each commit; reads through `runner` only the raw objects of commits it has not seen. */
  inspect(runner: GitRunner, ids: readonly string[]): Promise<Map<string, CommitInfo>>;
  /** A commit Hoist has just built and signed: known without reading it back. */
  remember(info: CommitInfo): void;
}

const isoOf = (who: Identity | undefined) => (who ? new Date(who.time * 1000).toISOString() : new Date(0).toISOString());

export function infoOf(commit: string, parsed: ParsedCommit, trust: Trust): CommitInfo {
  return {
    commit,
    parents: parsed.parents,
    date: isoOf(parsed.committer),
    author: parsed.author ? `${parsed.author.name} <${parsed.author.email}>` : 'unknown',
    subject: (parsed.message.split('\n')[0] ?? '').slice(0, 200),
    trust,
    groups: parseTrailerGroups(parsed.message),
  };
}

export function createCommitVerifier(options: CommitVerifierOptions): CommitVerifier {
  const capacity = options.capacity ?? 50_000;
  const known = new Map<string, CommitInfo>();
  const keep = (info: CommitInfo) => {
    known.set(info.commit, info);
    // Oldest first out: a Map iterates in insertion order.
    if (known.size > capacity) known.delete(known.keys().next().value as string);
  };
  const trustOf = (parsed: ParsedCommit, keys: readonly SshPublicKey[]): Trust => {
    if (parsed.signature !== undefined && verifySsh(parsed.payload, parsed.signature, keys)) return 'signed';
    const api = options.apiAuthor;
    if (api && parsed.signature === undefined && parsed.author?.email === api.email && parsed.author.name === api.name) return 'author';
    return 'none';
  };
  return {
    async inspect(runner, ids) {
      const out = new Map<string, CommitInfo>();
      const unknown: string[] = [];
      for (const id of ids) {
        const info = known.get(id);
        if (info) out.set(id, info);
        else unknown.push(id);
      }
      if (unknown.length === 0) return out;
      const [keys, objects] = await Promise.all([options.trustedKeys(), readObjects(runner, unknown)]);
      for (const id of unknown) {
        const object = objects.get(id);
        if (!object || object.type !== 'commit') continue;
        const parsed = parseCommit(object.body);
        const info = infoOf(id, parsed, trustOf(parsed, keys));
        keep(info);
        out.set(id, info);
      }
      return out;
    },
    remember: keep,
  };
}

interface LogRecord {
  commit: string;
  parents: string[];
  /** Files the commit changed under the paths asked for: blob ids before and after (all zeros: absent). */
  files: Array<{ path: string; before: string; after: string }>;
}

/** `git log -z --raw --format=%x1e%H%x1f%P` → one record per commit with its changed files. */
function parseLog(output: string): LogRecord[] {
  const records: LogRecord[] = [];
  for (const chunk of output.split('\x1e')) {
    if (!chunk) continue;
    const headerEnd = chunk.indexOf('\0');
    const header = headerEnd < 0 ? chunk : chunk.slice(0, headerEnd);
    const [commit = '', parentText = ''] = header.trim().split('\x1f');
    if (!/^[0-9a-f]{40,64}$/.test(commit)) continue;
    const files: LogRecord['files'] = [];
    const tokens = headerEnd < 0 ? [] : chunk.slice(headerEnd + 1).replace(/^\n/, '').split('\0');
    for (let i = 0; i + 1 < tokens.length; i += 2) {
      const meta = /^:\d+ \d+ ([0-9a-f]+) ([0-9a-f]+) [A-Z]\d*$/.exec(tokens[i] as string);
      if (meta) files.push({ path: tokens[i + 1] as string, before: meta[1] as string, after: meta[2] as string });
    }
    records.push({ commit, parents: parentText.split(' ').filter(Boolean), files });
  }
  return records;
}

const isKustomization = (path: string) => (KUSTOMIZATION_FILES as readonly string[]).includes(posix.basename(path));
const absent = (id: string) => /^0+$/.test(id);

function imageStates(text: string | undefined): Map<string, ImageState> | undefined {
  if (text === undefined) return new Map();
  try {
    return new Map(readImages(text).map((e) => [e.name, { name: e.name, newName: e.newName, tag: e.newTag, digest: e.digest }]));
  } catch {
    return undefined; // not a kustomization we can read: reported as a change of the file, not of images
  }
}

const sameImage = (a: ImageState | undefined, b: ImageState | undefined) => a?.tag === b?.tag && a?.digest === b?.digest && a?.newName === b?.newName;

/** What an outside commit changed in overlays: per kustomization file, the images entries before and after. */
function overlayChanges(files: LogRecord['files'], blobs: Map<string, { body: Buffer }>): OverlayChange[] {
  return files.map((file): OverlayChange => {
    if (!isKustomization(file.path)) return { path: file.path, images: [], other: true };
    const text = (id: string) => (absent(id) ? undefined : blobs.get(id)?.body.toString('utf8'));
    const before = imageStates(text(file.before));
    const after = imageStates(text(file.after));
    if (!before || !after) return { path: file.path, images: [], other: true };
    const images: ImageChange[] = [];
    for (const name of new Set([...before.keys(), ...after.keys()])) {
      if (!sameImage(before.get(name), after.get(name))) images.push({ name, before: before.get(name), after: after.get(name) });
    }
    // A kustomization change that moved no image (resources, patches…) is still a change.
    return { path: file.path, images, other: images.length === 0 };
  });
}

export interface HistoryReadOptions {
  /** Where to read from (a commit id or ref). */
  rev: string;
  /** Overlay directories (or files): only commits that touched them. */
  paths: readonly string[];
  limit: number;
  /**
   * Also say what outside commits changed (reads and parses their overlay files, so only the newest `max` of them,
   * each once: `cache` keeps the answers by commit id). Hoist's own commits say it in their trailers.
   */
  outside?: { max: number; cache: Map<string, OverlayChange[]> } | undefined;
  /** Environments' overlay paths that write through the GitLab API: only there does an author-trusted commit count. */
  apiPaths?: readonly string[];
}

/** Trust 'author' vouches only for the api environments' overlays; a signature vouches for every group. */
function believed(info: CommitInfo, files: LogRecord['files'], apiPaths: readonly string[]): boolean {
  if (info.trust === 'signed') return true;
  if (info.trust !== 'author') return false;
  const inApi = (p: string) => apiPaths.some((a) => p === a || p.startsWith(`${a.replace(/\/+$/, '')}/`));
  return files.length > 0 && files.every((f) => inApi(f.path));
}

/**
 * The commits that touched `paths`, newest first, each judged: Hoist's own (trusted, with the trailer groups it
 * carries) or an outside change (with what it changed, when asked). One `git log`, plus one `cat-file` for commits
 * and blobs not seen before.
 */
export async function readHistory(runner: GitRunner, verifier: CommitVerifier, options: HistoryReadOptions): Promise<HistoryCommit[]> {
  if (options.paths.length === 0) return [];
  const output = await runner.run(['log', '--no-abbrev', '--raw', '--no-renames', '-z', '--format=%x1e%H%x1f%P', `-n${options.limit}`, options.rev, '--', ...options.paths]);
  const records = parseLog(output);
  const infos = await verifier.inspect(runner, records.map((r) => r.commit));
  const apiPaths = options.apiPaths ?? [];
  const trusted = (r: LogRecord) => {
    const info = infos.get(r.commit);
    return info !== undefined && believed(info, r.files, apiPaths);
  };
  const outside = options.outside;
  if (outside) {
    const wanted = records.filter((r) => !trusted(r) && r.parents.length <= 1).slice(0, outside.max).filter((r) => !outside.cache.has(r.commit));
    const blobs = await readObjects(runner, wanted.flatMap((r) => r.files.filter((f) => isKustomization(f.path)).flatMap((f) => [f.before, f.after])).filter((id) => !absent(id)));
    for (const r of wanted) {
      outside.cache.set(r.commit, overlayChanges(r.files, blobs));
      // Each outside commit parses up to two kustomizations: let waiting requests in between.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    while (outside.cache.size > 10_000) outside.cache.delete(outside.cache.keys().next().value as string);
  }
  return records.flatMap((r): HistoryCommit[] => {
    const info = infos.get(r.commit);
    if (!info) return [];
    const base = { commit: r.commit, date: info.date, author: info.author, subject: info.subject };
    if (trusted(r)) return [{ ...base, trusted: true, groups: info.groups, changes: [] }];
    // A merge brings in its parents' changes, which are listed as their own commits. Beyond the analysed ones, an
    // outside commit still says which overlay files it touched.
    const changes = r.parents.length > 1 ? [] : (outside?.cache.get(r.commit) ?? r.files.map((f) => ({ path: f.path, images: [], other: true })));
    return [{ ...base, trusted: false, groups: [], changes }];
  });
}
