import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { CliEnv } from '../config/cli-env.js';
import { HoistError } from '../errors.js';

/** What `hoist login` saves: one Hoist and a token for it. */
export interface SavedLogin {
  url: string;
  token: string;
}

export interface Target {
  url: string;
  token: string;
}

/** `https://hoist.example.com/` → `https://hoist.example.com`; refuses what is not an http(s) URL of a Hoist. */
export function normalizeUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new HoistError('config_invalid', `"${text.slice(0, 200)}" is not a URL: give Hoist's address, e.g. https://hoist.example.com`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new HoistError('config_invalid', `${url.protocol}// is not Hoist's: give an http:// or https:// URL`);
  if (url.username || url.password) throw new HoistError('config_invalid', 'the URL must not hold a user or password: the token goes in --token (or HOIST_TOKEN)');
  if (url.search || url.hash) throw new HoistError('config_invalid', 'the URL must not have a query or fragment: give the address people open, e.g. https://hoist.example.com');
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/** An http:// URL off this machine sends the token in the clear. */
export function isPlainHttpOffHost(url: string): boolean {
  const { protocol, hostname } = new URL(url);
  return protocol === 'http:' && !['127.0.0.1', 'localhost', '[::1]', '::1'].includes(hostname);
}

export async function readSavedLogin(file: string | undefined): Promise<SavedLogin | undefined> {
  if (file === undefined) return undefined;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new HoistError('config_invalid', `cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const saved = parsed as Partial<SavedLogin> | undefined;
  if (typeof saved?.url !== 'string' || typeof saved.token !== 'string' || saved.token === '') {
    throw new HoistError('config_invalid', `${file} is not a saved Hoist login ({"url", "token"}): run \`hoist login\` again, or delete it`);
  }
  return { url: normalizeUrl(saved.url), token: saved.token };
}

/**
 * Writes the login readable by its owner only (0600, in a 0700 directory), through a temp file and a rename, so
 * the file is never half-written and never briefly readable by others.
 */
export async function saveLogin(file: string, login: SavedLogin): Promise<void> {
  const dir = dirname(file);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // mkdir leaves an existing directory's mode alone: ~/.config/hoist is ours, so tighten it.
  await chmod(dir, 0o700);
  const temp = join(dir, `.config.json.${randomBytes(6).toString('hex')}`);
  try {
    await writeFile(temp, `${JSON.stringify(login, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    await chmod(temp, 0o600);
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw new HoistError('config_invalid', `cannot save the login in ${file}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * The Hoist to talk to and the token for it: HOIST_URL and HOIST_TOKEN first (pipelines), else the saved login. A
 * saved token only ever goes to the URL it was saved for: HOIST_URL naming another Hoist does not get it.
 */
export function resolveTarget(env: Pick<CliEnv, 'url' | 'token'>, saved: SavedLogin | undefined): Target {
  const url = env.url !== undefined ? normalizeUrl(env.url) : saved?.url;
  if (url === undefined) throw new HoistError('config_invalid', 'not logged in: run `hoist login --url <Hoist URL>`, or set HOIST_URL and HOIST_TOKEN');
  const token = env.token ?? (saved !== undefined && saved.url === url ? saved.token : undefined);
  if (token === undefined) {
    const elsewhere = saved !== undefined ? ` (the saved login is for ${saved.url})` : '';
    throw new HoistError('config_invalid', `no token for ${url}${elsewhere}: set HOIST_TOKEN, or run \`hoist login --url ${url}\``);
  }
  return { url, token };
}
