import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

export interface GitHttpRequest {
  method: string;
  /** The URL path, e.g. `/gitops.git/info/refs`. */
  path: string;
  /** The query string without `?` (`service=git-upload-pack`), empty when none. */
  query: string;
  /** Absent when the client sent no Authorization header; never holds the credentials themselves. */
  authorization?: 'accepted' | 'refused';
  /** The Basic-auth user name the client sent, if any (user names are not secrets). */
  username?: string;
  /** The HTTP status answered. */
  status: number;
}

export interface GitHttpServer {
  /** `http://127.0.0.1:<port>/`; append `<repo>.git` (a path below projectRoot). */
  url: string;
  port: number;
  requests: GitHttpRequest[];
  stop(): Promise<void>;
}

export interface GitHttpServerOptions {
  /** Directory holding the bare repositories to serve (GIT_PROJECT_ROOT). */
  projectRoot: string;
  username: string;
  password: string;
  /** Listen on this port instead of a free one (to bring a remote up at a URL handed out earlier). */
  port?: number;
}

/** A header block ends at the first empty line; CGI scripts may use CRLF or LF. */
function splitHeaderBlock(buffer: Buffer): { head: string; rest: Buffer } | undefined {
  const crlf = buffer.indexOf('\r\n\r\n');
  const lf = buffer.indexOf('\n\n');
  if (crlf === -1 && lf === -1) return undefined;
  const [at, length] = crlf !== -1 && (lf === -1 || crlf < lf) ? [crlf, 4] : [lf, 2];
  return { head: buffer.subarray(0, at).toString('latin1'), rest: buffer.subarray(at + length) };
}

function parseBasic(header: string | undefined): { username: string; password: string } | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * A real Git smart-HTTP server: HTTP Basic auth in front of `git http-backend` (CGI), serving the bare
 * repositories under `projectRoot`, pushes included. Every request is recorded without its credentials.
 */
export async function startGitHttpServer(options: GitHttpServerOptions): Promise<GitHttpServer> {
  const requests: GitHttpRequest[] = [];
  const children = new Set<ChildProcess>();

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const target = new URL(req.url ?? '/', 'http://127.0.0.1');
    const record: GitHttpRequest = { method: req.method ?? 'GET', path: target.pathname, query: target.search.replace(/^\?/, ''), status: 0 };
    requests.push(record);
    res.on('finish', () => {
      record.status = res.statusCode;
    });

    const credentials = parseBasic(req.headers.authorization);
    if (req.headers.authorization !== undefined) {
      const ok = credentials?.username === options.username && credentials.password === options.password;
      record.authorization = ok ? 'accepted' : 'refused';
      if (credentials) record.username = credentials.username;
    }
    if (record.authorization !== 'accepted') {
      req.resume();
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"', 'Content-Type': 'text/plain' });
      res.end('Unauthorized\n');
      return;
    }

    const gzipped = /^(x-)?gzip$/i.test(req.headers['content-encoding'] ?? '');
    const env: Record<string, string> = {
      GIT_PROJECT_ROOT: options.projectRoot,
      GIT_HTTP_EXPORT_ALL: '1',
      PATH_INFO: decodeURIComponent(target.pathname),
      REQUEST_METHOD: req.method ?? 'GET',
      QUERY_STRING: record.query,
      REMOTE_USER: options.username,
      REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_COUNT: '1',
      GIT_CONFIG_KEY_0: 'http.receivepack',
      GIT_CONFIG_VALUE_0: 'true',
      HOME: process.env.HOME ?? '/tmp',
      PATH: process.env.PATH ?? '/usr/bin:/bin',
    };
    if (req.headers['content-type']) env.CONTENT_TYPE = req.headers['content-type'];
    // Once we inflate the body its compressed length means nothing; without CONTENT_LENGTH git reads to EOF.
    if (req.headers['content-length'] !== undefined && !gzipped) env.CONTENT_LENGTH = req.headers['content-length'];
    const protocol = req.headers['git-protocol'];
    if (typeof protocol === 'string') env.GIT_PROTOCOL = protocol;

    const child = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(child);
    child.on('exit', () => children.delete(child));
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const fail = (message: string) => {
      if (!res.headersSent) {
        res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end(`${message}\n`);
      } else {
        res.destroy();
      }
    };
    child.on('error', (error) => fail(`git http-backend: ${error.message}`));

    const body: Readable = gzipped ? req.pipe(createGunzip()) : req;
    body.on('error', () => child.stdin.destroy());
    child.stdin.on('error', () => undefined); // the backend may answer before reading everything
    body.pipe(child.stdin);

    let pending: Buffer | undefined = Buffer.alloc(0);
    child.stdout.on('data', (chunk: Buffer) => {
      if (pending === undefined) {
        res.write(chunk);
        return;
      }
      pending = Buffer.concat([pending, chunk]);
      const split = splitHeaderBlock(pending);
      if (!split) return;
      pending = undefined;
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of split.head.split(/\r?\n/)) {
        const colon = line.indexOf(':');
        if (colon === -1) continue;
        const name = line.slice(0, colon).trim();
        const value = line.slice(colon + 1).trim();
        if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10) || 500;
        else headers[name] = value;
      }
      res.writeHead(status, headers);
      if (split.rest.length > 0) res.write(split.rest);
    });
    child.stdout.on('end', () => {
      if (pending !== undefined) fail(`git http-backend sent no CGI headers: ${stderr.trim()}`);
      else res.end();
    });
  };

  const server = createServer(handle);
  server.listen(options.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    requests,
    async stop() {
      for (const child of children) child.kill('SIGKILL');
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
