import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { deflate } from 'node:zlib';
import type { GitRunner } from './git.js';
import { objectBytes, objectId, type ObjectFormat, type ObjectType } from './git-objects.js';

const deflateAsync = promisify(deflate);

export interface StoredObject {
  id: string;
  type: string;
  body: Buffer;
}

/**
 * Objects by name (`<rev>:<path>`, `<id>`, `<rev>^{tree}`) from one `git cat-file --batch` run; absent ones are left
 * out. One process however many objects: what a history read or a tree walk needs costs one spawn.
 */
export async function readObjects(runner: GitRunner, specs: readonly string[]): Promise<Map<string, StoredObject>> {
  const out = new Map<string, StoredObject>();
  const unique = [...new Set(specs)];
  if (unique.length === 0) return out;
  const bytes = await runner.runBytes(['cat-file', '--batch'], `${unique.join('\n')}\n`);
  let at = 0;
  for (const spec of unique) {
    const eol = bytes.indexOf(0x0a, at);
    if (eol < 0) break;
    const header = bytes.subarray(at, eol).toString('utf8');
    at = eol + 1;
    const match = /^([0-9a-f]+) (\w+) (\d+)$/.exec(header);
    if (!match) continue; // "<spec> missing" (or ambiguous): nothing follows
    const size = Number(match[3]);
    out.set(spec, { id: match[1] as string, type: match[2] as string, body: bytes.subarray(at, at + size) });
    at += size + 1;
  }
  return out;
}

export interface NewObject {
  type: ObjectType;
  body: Buffer;
}

/**
 * Writes objects as loose files the way git does (zlib of "<type> <size>\0<body>" at objects/xx/yyyy…), each through
 * a temp file and a rename, so a crash leaves either the whole object or none. An existing file is replaced rather
 * than trusted: a crash of something else may have left it empty. Returns the ids.
 */
export async function writeLooseObjects(gitDir: string, objects: readonly NewObject[], format: ObjectFormat): Promise<string[]> {
  return Promise.all(
    objects.map(async ({ type, body }) => {
      const id = objectId(type, body, format);
      const dir = join(gitDir, 'objects', id.slice(0, 2));
      const file = join(dir, id.slice(2));
      const temp = join(dir, `tmp_obj_hoist_${randomBytes(6).toString('hex')}`);
      const compressed = await deflateAsync(objectBytes(type, body));
      await mkdir(dir, { recursive: true });
      try {
        await writeFile(temp, compressed, { mode: 0o444 });
        await rename(temp, file);
      } catch (error) {
        await rm(temp, { force: true });
        throw error;
      }
      return id;
    }),
  );
}
