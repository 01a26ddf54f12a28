import { Hono } from 'hono';
import type { HttpEnv } from './types.js';

export type CheckResult = { ok: true } | { ok: false; reason: string };

/** Something wrong that does not make the process unready (a Redis that keeps nothing still queues jobs). */
export interface ReadinessWarning {
  check: string;
  risk: string;
  message: string;
}

export interface ReadinessDeps {
  /** Named checks; each must answer quickly (they run on every probe, with their own timeouts). */
  checks: Record<string, () => Promise<CheckResult>>;
  /** False once shutdown began, so load balancers stop sending before the server closes. */
  accepting: () => boolean;
  /** Shown in every answer while there are any; they never turn readiness to 503. */
  warnings?: () => readonly ReadinessWarning[];
}

export function health(deps: ReadinessDeps) {
  return new Hono<HttpEnv>()
    .get('/healthz', (c) => c.json({ status: 'ok' }))
    .get('/readyz', async (c) => {
      const names = Object.keys(deps.checks);
      const results = await Promise.all(names.map((name) => deps.checks[name]!().catch((e: unknown): CheckResult => ({ ok: false, reason: String(e) }))));
      const checks = Object.fromEntries(names.map((name, i) => [name, results[i]!.ok ? 'ok' : (results[i] as { reason: string }).reason]));
      const ready = deps.accepting() && results.every((r) => r.ok);
      if (!deps.accepting()) checks.shutdown = 'shutting down';
      const warnings = deps.warnings?.() ?? [];
      return c.json({ status: ready ? 'ready' : 'not ready', checks, ...(warnings.length > 0 ? { warnings } : {}) }, ready ? 200 : 503);
    });
}
