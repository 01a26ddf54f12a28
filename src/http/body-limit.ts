import type { MiddlewareHandler } from 'hono';
import { bodyLimit as countedBodyLimit } from 'hono/body-limit';
import { HoistError } from '../errors.js';
import type { HttpEnv } from './types.js';

export const KIB = 1024;
export const MIB = 1024 * KIB;

export interface BodyLimitOptions {
  maxBytes: number;
  /** What the body is, for the refusal: "webhook body", "API request body". */
  what: string;
  /** Told about each refusal (the GitLab webhook counts it as a rejected delivery). */
  onRefused?: () => void;
}

function inWords(bytes: number): string {
  return bytes % MIB === 0 ? `${bytes / MIB} MiB` : bytes % KIB === 0 ? `${bytes / KIB} KiB` : `${bytes} bytes`;
}

/**
 * Refuses a body over `maxBytes` with 413 before it is buffered. Mount it on a route group
 * (`app.use('/api/*', …)`) so every route under the group, including later ones, inherits it.
 */
export function bodyLimit(options: BodyLimitOptions): MiddlewareHandler<HttpEnv> {
  const { maxBytes, what } = options;
  const refuse = (): never => {
    options.onRefused?.();
    throw new HoistError('payload_too_large', `${what} is larger than ${maxBytes} bytes (${inWords(maxBytes)})`, { details: { limitBytes: maxBytes } });
  };
  const counted = countedBodyLimit({ maxSize: maxBytes, onError: refuse });
  return async (c, next) => {
    // A declared length is checked without touching the body: reading c.req.raw.body makes the node adapter
    // build a whole web Request, which costs on the webhook path. Node's parser holds the body to that length.
    const length = c.req.header('content-length');
    if (length !== undefined && c.req.header('transfer-encoding') === undefined) {
      if (Number(length) > maxBytes) refuse();
      return next();
    }
    // Nothing reads the body of a GET or HEAD, and a web Request cannot carry one.
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    // No declared length (chunked): counted while it streams in, refused at the first byte over.
    return counted(c, next);
  };
}
