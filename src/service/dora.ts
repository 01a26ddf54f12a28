import type { Logger } from 'pino';
import { computeDora, type DoraFigures } from '../domain/dora.js';
import { itemsOf, type App, type Environment, type Promotion } from '../domain/types.js';
import { HoistError, toHoistError } from '../errors.js';
import type { BuildIndex } from '../store/builds.js';
import { DORA_RETENTION_MS, type DoraRecords } from '../store/dora-records.js';
import { createKeyedChains } from './keyed-chains.js';

export interface DoraDeps {
  records: DoraRecords;
  builds: BuildIndex;
  environments: readonly Environment[];
  apps: readonly App[];
  failureWindowMs: number;
  /** Without a deploy side (Argo CD) a landed commit counts as running healthy, as its GitLab deployment does. */
  healthyOnCommit: boolean;
  metrics?: {
    deployed(env: string): void;
    failed(env: string): void;
    leadTime(env: string, seconds: number): void;
  };
  logger: Logger;
  now: () => Date;
}

export interface DoraQuery {
  env?: string | undefined;
  app?: string | undefined;
  since?: Date | undefined;
  until?: Date | undefined;
}

export type DoraAnswer = DoraFigures & { since: string; until: string; env?: string; app?: string };

const DAY_MS = 86_400_000;
const DEFAULT_RANGE_MS = 30 * DAY_MS;
const MAX_RANGE_MS = 366 * DAY_MS;
/** How far around the window the records that decide its figures are read: rollbacks and restores come later. */
const CONTEXT_MS = 30 * DAY_MS;
/** More deployments than a year of a busy install's production; the read stays bounded whatever happens. */
const MAX_RECORDS = 50_000;

/**
 * DORA figures from Hoist's own records: each promotion that lands is filed with its source commits' times, and the
 * moments it became healthy, degraded, or healthy again are added as the store tells them. Metrics follow the same
 * moments, once each.
 */
export function createDora(deps: DoraDeps) {
  const { records, logger } = deps;
  const chains = createKeyedChains((id, error) => logger.warn({ promotionId: id, err: toHoistError(error).message }, 'could not record a DORA moment'));

  const failedOnce = async (id: string, env: string, landedAt: string, at: Date) => {
    if (at.getTime() - Date.parse(landedAt) > deps.failureWindowMs) return;
    if (await records.mark(id, 'failedAt', at.toISOString())) deps.metrics?.failed(env);
  };

  const healthy = async (p: Promotion, at: Date) => {
    if (!(await records.mark(p.id, 'healthyAt', at.toISOString()))) return;
    if (p.source.kind === 'rollback') return;
    const record = await records.get(p.id);
    for (const item of record?.apps ?? []) {
      const commit = item.commitAt ? Date.parse(item.commitAt) : Number.NaN;
      if (Number.isFinite(commit)) deps.metrics?.leadTime(p.env, Math.max(0, (at.getTime() - commit) / 1000));
    }
  };

  /** Files the landing the first time a promotion is seen committed (or already degraded); true when it is filed now. */
  const land = async (p: Promotion, at: Date): Promise<boolean> => {
    const apps = [];
    for (const item of itemsOf(p)) {
      const build = await deps.builds.get(item.app, item.tag);
      apps.push({ app: item.app, tag: item.tag, ...(build?.commitTimestamp ? { commitAt: build.commitTimestamp } : {}) });
    }
    if (!(await records.landed({ id: p.id, env: p.env, kind: p.source.kind, apps, landedAt: at.toISOString() }))) return false;
    deps.metrics?.deployed(p.env);
    for (const item of itemsOf(p)) {
      const previous = await records.replaceLast(p.env, item.app, p.id);
      if (p.source.kind !== 'rollback' || !previous) continue;
      // A rollback says the deployment it replaced was a failed change, if it came within the failure window.
      const before = await records.get(previous);
      if (before) await failedOnce(before.id, before.env, before.landedAt, at);
    }
    return true;
  };

  const handle = async (p: Promotion) => {
    if (p.state !== 'committed' && p.state !== 'degraded') return;
    const at = deps.now();
    const filedNow = await land(p, at);
    if (p.state === 'committed') {
      if (p.health === 'healthy' || (filedNow && deps.healthyOnCommit)) await healthy(p, at);
      return;
    }
    if (await records.mark(p.id, 'degradedAt', at.toISOString())) {
      const record = await records.get(p.id);
      if (record) await failedOnce(p.id, p.env, record.landedAt, at);
    } else if (p.health === 'healthy') {
      // Degraded before, healthy again now: the incident is over.
      await records.mark(p.id, 'restoredAt', at.toISOString());
    }
  };

  const named = (what: 'environment' | 'app', name: string | undefined, known: ReadonlyArray<{ name: string }>) => {
    if (name !== undefined && !known.some((k) => k.name === name)) {
      throw new HoistError('bad_request', `unknown ${what} "${name}" (known: ${known.map((k) => k.name).join(', ')})`);
    }
  };

  return {
    /** Told about every promotion the store writes (observeStore); never blocks or fails the write. */
    observe(p: Promotion): void {
      if (p.state === 'committed' || p.state === 'degraded') chains.run(p.id, () => handle(p));
    },

    flush: () => chains.flush(),

    /** The four figures over [since, until) (default: the last 30 days), for one environment and app or all. */
    async figures(query: DoraQuery): Promise<DoraAnswer> {
      named('environment', query.env, deps.environments);
      named('app', query.app, deps.apps);
      const until = query.until ?? deps.now();
      const since = query.since ?? new Date(until.getTime() - DEFAULT_RANGE_MS);
      if (since.getTime() >= until.getTime()) throw new HoistError('bad_request', `since (${since.toISOString()}) must be before until (${until.toISOString()})`);
      if (until.getTime() - since.getTime() > MAX_RANGE_MS) throw new HoistError('bad_request', 'since and until may be at most 366 days apart');
      if (deps.now().getTime() - since.getTime() > DORA_RETENTION_MS) throw new HoistError('bad_request', `since is older than the ${Math.round(DORA_RETENTION_MS / DAY_MS)} days Hoist keeps`);
      const found = await records.between(new Date(since.getTime() - CONTEXT_MS), new Date(until.getTime() + CONTEXT_MS), MAX_RECORDS);
      const figures = computeDora(found, { since, until, env: query.env, app: query.app, failureWindowMs: deps.failureWindowMs });
      return { ...figures, since: since.toISOString(), until: until.toISOString(), ...(query.env ? { env: query.env } : {}), ...(query.app ? { app: query.app } : {}) };
    },
  };
}

export type Dora = ReturnType<typeof createDora>;
