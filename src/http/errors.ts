import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Logger } from 'pino';
import { isHoistError, type HoistErrorCode } from '../errors.js';

const STATUS: Partial<Record<HoistErrorCode, ContentfulStatusCode>> = {
  bad_request: 400,
  config_invalid: 400,
  template_invalid: 422,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unavailable: 503,
  // The GitOps remote failed us: an upstream problem, not ours and not the caller's.
  git_transient: 502,
  git_auth: 502,
  git_rejected: 502,
  registry_auth: 502,
  image_not_found: 422,
};

/** The status an error code answers with: the board's pages use the same as the API. */
export function statusOf(code: HoistErrorCode): ContentfulStatusCode {
  return STATUS[code] ?? 500;
}

/** The one place errors become HTTP answers: `{error, code}` with a status from the code. */
export function createErrorHandler(logger: Logger) {
  return (error: Error, c: Context) => {
    if (isHoistError(error)) {
      const status = statusOf(error.code);
      if (status >= 500) logger.error({ err: error, code: error.code, requestId: c.get('requestId') }, 'request failed');
      if (status === 503) c.header('Retry-After', '5');
      return c.json({ error: error.message, code: error.code, ...(error.details && status < 500 ? { details: error.details } : {}) }, status);
    }
    if (error instanceof HTTPException) {
      return c.json({ error: error.message || 'request rejected', code: 'bad_request' }, error.status as ContentfulStatusCode);
    }
    logger.error({ err: error, requestId: c.get('requestId') }, 'unhandled error');
    return c.json({ error: 'internal error', code: 'internal' }, 500);
  };
}
