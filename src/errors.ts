/** Every failure Hoist reports is a HoistError; `code` drives HTTP status and retry decisions at the edges. */
export type HoistErrorCode =
  | 'config_invalid'
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'unavailable'
  | 'template_invalid'
  | 'kustomization_invalid'
  | 'overlay_missing'
  | 'render_failed'
  | 'image_not_rendered'
  | 'git_transient'
  | 'git_rejected'
  | 'git_auth'
  /** The registry has no such image or tag (digest pinning, verifyTag). */
  | 'image_not_found'
  /** The registry refused Hoist's credentials (or asked for some and none are configured). */
  | 'registry_auth'
  | 'internal';

export interface HoistErrorOptions {
  retryable?: boolean;
  cause?: unknown;
  /** Extra fields safe to show to API callers (never secrets). */
  details?: Record<string, unknown>;
}

const RETRYABLE_BY_DEFAULT: ReadonlySet<HoistErrorCode> = new Set(['unavailable', 'git_transient']);

export class HoistError extends Error {
  readonly code: HoistErrorCode;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: HoistErrorCode, message: string, options: HoistErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HoistError';
    this.code = code;
    this.retryable = options.retryable ?? RETRYABLE_BY_DEFAULT.has(code);
    this.details = options.details;
  }
}

export function isHoistError(value: unknown): value is HoistError {
  return value instanceof HoistError;
}

/** Wraps anything thrown into a HoistError, keeping HoistErrors as they are. */
export function toHoistError(value: unknown, fallback: HoistErrorCode = 'internal'): HoistError {
  if (value instanceof HoistError) return value;
  const message = value instanceof Error ? value.message : String(value);
  return new HoistError(fallback, message, { cause: value });
}
