import { HoistError } from '../errors.js';

export interface RedisAddress {
  host: string;
  port: number;
}

/**
 * What REDIS_URL names: one Redis (`redis://`, `rediss://`, handed to ioredis as written), a Redis Cluster by its
 * seed nodes (`redis+cluster://h:p,h:p`), or a Sentinel set and the name of the master it watches
 * (`redis+sentinel://h:p,h:p/<name>`). The `+cluster`/`+sentinel` forms take `rediss` for TLS too.
 */
export type RedisTarget =
  | { kind: 'single'; url: string }
  | { kind: 'cluster'; nodes: RedisAddress[]; auth: RedisAuth; tls: boolean }
  | { kind: 'sentinel'; sentinels: RedisAddress[]; name: string; db: number; auth: RedisAuth; sentinelAuth: RedisAuth; tls: boolean };

/** Applies to every node of a cluster; for Sentinel, to the master and its replicas (the sentinels have their own). */
export interface RedisAuth {
  username?: string | undefined;
  password?: string | undefined;
}

const DEFAULT_PORT = { cluster: 6379, sentinel: 26379 } as const;
const SENTINEL_PARAMS = new Set(['sentinelUsername', 'sentinelPassword']);

/** Messages name the form and the part that is wrong, never the value: REDIS_URL may hold a password. */
const refuse = (message: string): never => {
  throw new HoistError('config_invalid', `REDIS_URL ${message}`);
};

function decode(part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return refuse(`has a ${what} that is not percent-encoded correctly`);
  }
}

function parseAddress(text: string, kind: 'cluster' | 'sentinel', index: number): RedisAddress {
  const which = `${kind === 'cluster' ? 'node' : 'sentinel'} ${index + 1}`;
  // [v6]:port, host:port or a bare host (the default port).
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]+))(?::([^:]*))?$/.exec(text);
  if (text === '' || !match) return refuse(`${which} is not host:port (got "${text}")`);
  const host = match[1] ?? (match[2] as string);
  if (match[3] === undefined) return { host, port: DEFAULT_PORT[kind] };
  const port = /^\d{1,5}$/.test(match[3]) ? Number(match[3]) : NaN;
  if (!(port >= 1 && port <= 65535)) return refuse(`${which} (${host}) has no valid port: "${match[3]}" is not a number from 1 to 65535`);
  return { host, port };
}

/** Parses REDIS_URL; `config_invalid` with the reason for anything malformed. */
export function parseRedisUrl(value: string): RedisTarget {
  const text = value.trim();
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(text)?.[1]?.toLowerCase();
  if (scheme === 'redis' || scheme === 'rediss') {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      return refuse(`is not a URL: write it as ${scheme}://[:password@]host:port[/db]`);
    }
    if (url.hostname === '') return refuse(`names no host: write it as ${scheme}://host:port`);
    return { kind: 'single', url: text };
  }
  const replicated = /^(rediss?)\+(cluster|sentinel)$/.exec(scheme ?? '');
  if (!replicated) {
    return refuse(
      'must start with redis:// or rediss:// (one Redis), redis+cluster:// (a Redis Cluster) or redis+sentinel:// (a Sentinel set)' +
        (scheme ? `, not ${scheme}://` : ', e.g. redis://127.0.0.1:6379'),
    );
  }
  const tls = replicated[1] === 'rediss';
  const kind = replicated[2] as 'cluster' | 'sentinel';
  const example = kind === 'cluster' ? `${scheme}://[:password@]host:port,host:port` : `${scheme}://[:password@]host:port,host:port/<master name>`;
  const rest = text.slice(`${scheme}://`.length);
  if (rest.includes('#')) refuse(`takes no #fragment: write it as ${example}`);
  const [beforeQuery = '', query] = splitOnce(rest, '?');
  const slash = beforeQuery.indexOf('/');
  const authority = slash === -1 ? beforeQuery : beforeQuery.slice(0, slash);
  const path = slash === -1 ? '' : beforeQuery.slice(slash + 1);
  // The password may itself hold '@' when not encoded: the host list starts after the last one.
  const at = authority.lastIndexOf('@');
  const userinfo = at === -1 ? undefined : authority.slice(0, at);
  const hosts = at === -1 ? authority : authority.slice(at + 1);
  if (hosts === '') refuse(`names no host: write it as ${example}`);
  const addresses = hosts.split(',').map((h, i) => parseAddress(h.trim(), kind, i));
  const auth: RedisAuth = {};
  if (userinfo !== undefined) {
    const [user = '', password] = splitOnce(userinfo, ':');
    if (user !== '') auth.username = decode(user, 'username');
    if (password !== undefined && password !== '') auth.password = decode(password, 'password');
  }
  const params = new URLSearchParams(query ?? '');
  const allowed = kind === 'sentinel' ? SENTINEL_PARAMS : new Set<string>();
  for (const name of params.keys()) {
    if (!allowed.has(name)) {
      refuse(`has an unknown parameter "${name}": ${scheme}:// takes ${allowed.size > 0 ? [...allowed].join(' and ') : 'none'}`);
    }
  }
  if (kind === 'cluster') {
    // A cluster has database 0 only (SELECT is refused there).
    if (path !== '' && path !== '0') refuse(`names a database, but a Redis Cluster has only database 0: write it as ${example}`);
    return { kind, nodes: addresses, auth, tls };
  }
  const [rawName = '', db, ...extra] = path.split('/');
  if (rawName === '') refuse(`names no master: Sentinel knows masters by name, write it as ${example}`);
  if (extra.length > 0 || (db !== undefined && !/^\d{1,2}$/.test(db))) refuse(`may name a database after the master (/<master name>/<db>), nothing else`);
  const sentinelAuth: RedisAuth = {};
  const sentinelUsername = params.get('sentinelUsername');
  const sentinelPassword = params.get('sentinelPassword');
  if (sentinelUsername) sentinelAuth.username = sentinelUsername;
  if (sentinelPassword) sentinelAuth.password = sentinelPassword;
  return { kind, sentinels: addresses, name: decode(rawName, 'master name'), db: db === undefined ? 0 : Number(db), auth, sentinelAuth, tls };
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const i = text.indexOf(separator);
  return i === -1 ? [text, undefined] : [text.slice(0, i), text.slice(i + 1)];
}

/** REDIS_URL for messages and logs: passwords (the URL's and `sentinelPassword`) become `***`. */
export function redactRedisUrl(value: string): string {
  const text = value.trim();
  // user:password@ → user:***@, for every form (the host list of +cluster/+sentinel is no URL the WHATWG parser takes).
  const redacted = text.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^/?#]*)@/, (_all, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(':');
    return `${scheme}${colon === -1 ? userinfo : `${userinfo.slice(0, colon)}:***`}@`;
  });
  return redacted.replace(/([?&]sentinelPassword=)[^&#]*/g, '$1***');
}
