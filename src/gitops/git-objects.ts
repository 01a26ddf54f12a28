/**
 * Git's object formats, pure: ids, trees and commits as git stores them (Documentation/gitformat-*, "Git Internals:
 * Git Objects"). Hoist builds its own commits from these, so a commit carries exactly the bytes Hoist decided on —
 * the editor's output over the blob it was built on — and never whatever a working tree holds.
 */
import { createHash } from 'node:crypto';

export type ObjectFormat = 'sha1' | 'sha256';
export type ObjectType = 'blob' | 'tree' | 'commit';

export const formatOfId = (id: string): ObjectFormat => (id.length === 64 ? 'sha256' : 'sha1');

export function objectId(type: ObjectType, body: Buffer, format: ObjectFormat): string {
  return createHash(format).update(`${type} ${body.length}\0`).update(body).digest('hex');
}

/** The bytes git stores for an object (before zlib): header then body. */
export function objectBytes(type: ObjectType, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${type} ${body.length}\0`), body]);
}

export interface TreeEntry {
  /** As git writes it: 100644, 100755, 120000, 160000, or 40000 for a tree. */
  mode: string;
  name: string;
  id: string;
}

export const isTreeMode = (mode: string) => mode === '40000' || mode === '040000';

export function parseTree(body: Buffer, format: ObjectFormat): TreeEntry[] {
  const idLength = format === 'sha256' ? 32 : 20;
  const entries: TreeEntry[] = [];
  let at = 0;
  while (at < body.length) {
    const space = body.indexOf(0x20, at);
    const nul = body.indexOf(0, space + 1);
    if (space < 0 || nul < 0 || nul + 1 + idLength > body.length) throw new Error('malformed tree object');
    entries.push({ mode: body.subarray(at, space).toString('latin1'), name: body.subarray(space + 1, nul).toString('utf8'), id: body.subarray(nul + 1, nul + 1 + idLength).toString('hex') });
    at = nul + 1 + idLength;
  }
  return entries;
}

/** Git orders tree entries by name bytes, a tree's name compared as if it ended in '/'. */
function sortKey(entry: TreeEntry): Buffer {
  return Buffer.from(isTreeMode(entry.mode) ? `${entry.name}/` : entry.name);
}

export function encodeTree(entries: readonly TreeEntry[]): Buffer {
  const sorted = [...entries].sort((a, b) => Buffer.compare(sortKey(a), sortKey(b)));
  return Buffer.concat(sorted.flatMap((e) => [Buffer.from(`${isTreeMode(e.mode) ? '40000' : e.mode} ${e.name}\0`), Buffer.from(e.id, 'hex')]));
}

export interface Identity {
  name: string;
  email: string;
  /** Seconds since the epoch. */
  time: number;
  /** `+0000` style. */
  zone: string;
}

function identityLine(who: Identity): string {
  // Angle brackets and line breaks would end the field early.
  const clean = (s: string) => s.replace(/[<>\r\n]/g, '').trim();
  return `${clean(who.name)} <${clean(who.email)}> ${who.time} ${who.zone}`;
}

export function parseIdentity(line: string): Identity | undefined {
  const match = /^(.*?) ?<([^>]*)> (\d+) ([+-]\d{4})$/.exec(line);
  if (!match) return undefined;
  return { name: match[1] as string, email: match[2] as string, time: Number(match[3]), zone: match[4] as string };
}

export interface CommitFields {
  tree: string;
  parents: readonly string[];
  author: Identity;
  committer: Identity;
  message: string;
}

/** The commit object without a signature: what a signature signs. */
export function commitPayload(fields: CommitFields): Buffer {
  const headers = [`tree ${fields.tree}`, ...fields.parents.map((p) => `parent ${p}`), `author ${identityLine(fields.author)}`, `committer ${identityLine(fields.committer)}`];
  return Buffer.from(`${headers.join('\n')}\n\n${fields.message}`);
}

/** Adds the signature as git does: a `gpgsig` header at the end of the headers, continuation lines indented by one space. */
export function withSignature(payload: Buffer, armored: string, format: ObjectFormat): Buffer {
  const end = payload.indexOf('\n\n');
  if (end < 0) throw new Error('commit payload has no message separator');
  const header = format === 'sha256' ? 'gpgsig-sha256' : 'gpgsig';
  const value = armored.replace(/\n$/, '').split('\n').join('\n ');
  return Buffer.concat([payload.subarray(0, end + 1), Buffer.from(`${header} ${value}\n`), payload.subarray(end + 1)]);
}

export interface ParsedCommit {
  tree: string;
  parents: string[];
  author: Identity | undefined;
  committer: Identity | undefined;
  message: string;
  /** The armored signature, when the commit carries one. */
  signature?: string | undefined;
  /** The object without its signature header: the bytes the signature covers. */
  payload: Buffer;
}

/** Reads a raw commit object (`git cat-file commit`): headers, the signature taken out, the message. */
export function parseCommit(raw: Buffer): ParsedCommit {
  const end = raw.indexOf('\n\n');
  const headerText = (end < 0 ? raw : raw.subarray(0, end)).toString('utf8');
  const message = end < 0 ? '' : raw.subarray(end + 2).toString('utf8');
  const lines = headerText.split('\n');
  const kept: string[] = [];
  const parents: string[] = [];
  let tree = '';
  let author: Identity | undefined;
  let committer: Identity | undefined;
  let signature: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const space = line.indexOf(' ');
    const key = space < 0 ? line : line.slice(0, space);
    const value = space < 0 ? '' : line.slice(space + 1);
    if (key === 'gpgsig' || key === 'gpgsig-sha256') {
      const parts = [value];
      while (i + 1 < lines.length && (lines[i + 1] as string).startsWith(' ')) parts.push((lines[++i] as string).slice(1));
      signature ??= `${parts.join('\n')}\n`;
      continue;
    }
    kept.push(line);
    if (key === 'tree') tree = value;
    else if (key === 'parent') parents.push(value);
    else if (key === 'author') author = parseIdentity(value);
    else if (key === 'committer') committer = parseIdentity(value);
  }
  const payload = signature === undefined ? raw : Buffer.concat([Buffer.from(`${kept.join('\n')}`), end < 0 ? Buffer.alloc(0) : raw.subarray(end)]);
  return { tree, parents, author, committer, message, signature, payload };
}
