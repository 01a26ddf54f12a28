import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { ArgoCdClient, ApplicationState } from '../argocd/client.js';
import { judgeApplication } from '../argocd/judge.js';
import { applicationName, matchApplication } from '../argocd/names.js';
import type { HealthSource, RepoReader } from '../domain/ports.js';
import { itemsOf, type App, type Environment, type Promotion } from '../domain/types.js';
import { toHoistError } from '../errors.js';
import type { DeploymentReports } from '../store/deployment-reports.js';
import type { PromotionStore } from '../store/promotion-store.js';
import { DEPLOY_JOB, type FollowupJob } from './promotion-job.js';
import type { RolloutWatch } from './rollout-watch.js';

export interface DeployWatchDeps {
  argocd?: { client: ArgoCdClient; applications: string; watchTimeoutMs: number } | undefined;
  environments: readonly Environment[];
  apps: readonly App[];
  reader: RepoReader;
  store: PromotionStore;
  reports: DeploymentReports;
  followups: Queue<FollowupJob>;
  logger: Logger;
  now: () => Date;
  /** Wakes the gates that wait on this environment and app. */
  reported(env: string, app: string): Promise<void>;
  /** Starts the automatic rollback of a degraded promotion. */
  rollback(p: Promotion, why: string): Promise<Promotion>;
  /** Argo Rollouts and the watch window (rollout-watch.ts): a Rollout's own verdict, and what follows a verdict. */
  rollouts?: Pick<RolloutWatch, 'refine' | 'takeOver'> | undefined;
}

/** What the deploy side says about the version of an app that a revision runs. */
type Observed = { app: string; tag: string | undefined; verdict: ReturnType<typeof judgeApplication> };

const FIRST_RECHECK_MS = 2_000;
/** How many of Hoist's commits to search for the promotion behind a reported version. */
const HISTORY_LOOKBACK = 200;
const MAX_RECHECK_MS = 60_000;

/**
 * Reads deployments back from Argo CD: refreshes an environment's Application right after a commit,
 * follows it until the new version is Synced and Healthy or Degraded, takes Argo CD notifications, and
 * answers the `healthy` gate. A Degraded version marks its promotion degraded and, with `autoRollback`,
 * starts a normal rollback.
 */
export function createDeployWatch(deps: DeployWatchDeps) {
  const { argocd, reader, store, reports, logger } = deps;
  const envNamed = (name: string) => deps.environments.find((e) => e.name === name);

  const nameOf = (env: string, app: string) => applicationName(argocd?.applications ?? '{{app}}-{{env}}', { app, env });

  /**
   * The apps' tags at a revision of the repository where each lives in this environment (an Application follows one
   * repository; an app that lives elsewhere is read there). The read mirror fetches once if it lacks the revision.
   */
  const tagsAt = async (env: Environment, revision: string, scope: readonly string[]): Promise<Map<string, string | undefined> | undefined> => {
    const out = new Map<string, string | undefined>();
    let fetched = false;
    for (const name of scope) {
      const app = deps.apps.find((a) => a.name === name);
      if (!app) continue;
      let images = await reader.imagesAt(revision, env.name, name);
      if (images === undefined && !fetched) {
        fetched = true;
        await reader.snapshot([env.name]);
        images = await reader.imagesAt(revision, env.name, name);
      }
      if (images !== undefined) out.set(name, images.find((i) => i.name === app.image)?.tag);
    }
    return out.size > 0 ? out : undefined;
  };

  /** The promotion that put app:tag into the environment: the landed index, else the commit trailers. */
  const landedPromotion = async (env: Environment, app: string, tag: string): Promise<Promotion | undefined> => {
    const matches = (p: Promotion | undefined) => p !== undefined && p.env === env.name && itemsOf(p).some((i) => i.app === app && i.tag === tag);
    const id = await reports.landedBy(env.name, app);
    const indexed = id ? await store.get(id) : undefined;
    if (matches(indexed)) return indexed;
    // The index is written just after the commit is recorded; a report can arrive in between.
    // Only Hoist's own (signed) commits say which promotion landed a tag.
    for (const commit of await reader.history([env.name], HISTORY_LOOKBACK)) {
      const group = commit.trusted ? commit.groups.find((g) => g.env === env.name && g.app === app) : undefined;
      if (!group) continue;
      if (group.tag !== tag) return undefined;
      const found = await store.get(group.promotion);
      return matches(found) ? found : undefined;
    }
    return undefined;
  };

  const markDegraded = async (env: Environment, app: string, tag: string, why: string): Promise<void> => {
    const p = await landedPromotion(env, app, tag);
    if (!p) return;
    let changed = false;
    const degraded = await store.transact(p.id, (cur) => {
      if (cur.state !== 'committed') return {};
      changed = true;
      return { state: 'degraded', health: 'degraded', reason: why };
    });
    if (!changed) return;
    logger.warn({ promotionId: p.id, env: env.name, app, tag, why }, 'promotion degraded');
    // A rollback that degrades is not rolled back again: that way lies flapping between two bad versions.
    if (!env.autoRollback || p.source.kind === 'rollback') return;
    try {
      const rollback = await deps.rollback(degraded, `${app}:${tag} degraded in ${env.name}`);
      await store.update(p.id, {
        rolledBackBy: rollback.id,
        reason: `${why}; rolled back automatically to ${rollback.tag} by promotion ${rollback.id}`,
      });
      logger.warn({ promotionId: p.id, rollback: rollback.id, tag: rollback.tag }, 'automatic rollback started');
    } catch (error) {
      const message = toHoistError(error).message;
      await store.update(p.id, { reason: `${why}; automatic rollback not possible: ${message}` });
      logger.error({ promotionId: p.id, err: message }, 'automatic rollback failed');
    }
  };

  /**
   * Records what an Application state says about each app in scope. Only the version the reported
   * revision actually runs is judged: a Degraded older revision says nothing about our commit.
   */
  const observe = async (env: Environment, scope: readonly string[], state: ApplicationState): Promise<Observed[]> => {
    const appVerdict = judgeApplication(state);
    const revision = state.revision ?? state.operationRevision;
    const tags = revision ? await tagsAt(env, revision, scope) : undefined;
    const out: Observed[] = [];
    for (const app of scope) {
      const tag = tags?.get(app);
      // A Rollout has the last word on its version: paused is not healthy yet, aborted is degraded.
      const { verdict, why } = tag !== undefined && deps.rollouts ? await deps.rollouts.refine({ env, app, tag, state, verdict: appVerdict }) : { verdict: appVerdict, why: undefined };
      out.push({ app, tag, verdict });
      if (tag === undefined) continue;
      if (verdict === 'deployed') {
        await reports.record({ environment: env.name, app, tag, status: 'deployed', at: deps.now().toISOString() });
        const id = await reports.landedBy(env.name, app);
        if (id) {
          const p = await store.get(id);
          // A degraded version reported healthy again has recovered (time to restore): its state stays degraded.
          if (p && (p.state === 'committed' || p.state === 'degraded') && p.health !== 'healthy' && itemsOf(p).some((i) => i.app === app && i.tag === tag)) await store.update(id, { health: 'healthy' });
        }
        await deps.reported(env.name, app);
      } else if (verdict === 'degraded' || verdict === 'failed') {
        await reports.record({ environment: env.name, app, tag, status: 'degraded', at: deps.now().toISOString() });
        const what = why ?? (verdict === 'degraded' ? `Argo CD reports ${state.name} Degraded` : `Argo CD's sync of ${state.name} ${state.phase ?? 'failed'}`);
        await markDegraded(env, app, tag, `${what} at ${revision?.slice(0, 12)}${state.healthMessage ? `: ${state.healthMessage}` : ''}`);
        await deps.reported(env.name, app);
      }
    }
    return out;
  };

  const enqueue = (promotionId: string, round: number, since: string, delay: number) =>
    deps.followups.add(DEPLOY_JOB, { promotionId, round, since }, { jobId: `deploy-${promotionId}-${round}`, delay, removeOnComplete: true, removeOnFail: 100 });

  return {
    enabled: argocd !== undefined,

    /** A deploy report (POST /webhooks/deployments) said this version is degraded. */
    async reportedDegraded(envName: string, app: string, tag: string): Promise<void> {
      const env = envNamed(envName);
      if (env) await markDegraded(env, app, tag, `a deploy report says ${app}:${tag} is degraded in ${envName}`);
    },

    /** Right after a commit lands: ask Argo CD to refresh now instead of at its next poll, then follow the sync. */
    async afterCommit(p: Promotion): Promise<void> {
      for (const item of itemsOf(p)) await reports.landed(p.env, item.app, p.id);
      if (argocd) await enqueue(p.id, 0, deps.now().toISOString(), 0);
    },

    /** One follow-up round: refresh (first round) or read the Application, judge, and re-check later if undecided. */
    async follow(job: FollowupJob): Promise<void> {
      if (!argocd) return;
      const p = await store.get(job.promotionId);
      const env = p && envNamed(p.env);
      if (!p || !env || p.state !== 'committed') return;
      const names = new Map<string, string[]>();
      for (const item of itemsOf(p)) names.set(nameOf(p.env, item.app), [...(names.get(nameOf(p.env, item.app)) ?? []), item.app]);
      let decided = true;
      for (const [name, apps] of names) {
        let state: ApplicationState;
        try {
          state = job.round === 0 ? await argocd.client.refresh(name) : await argocd.client.getApplication(name);
        } catch (error) {
          const e = toHoistError(error);
          logger.warn({ promotionId: p.id, application: name, err: e.message, retryable: e.retryable }, job.round === 0 ? 'Argo CD refresh failed' : 'Argo CD read failed');
          if (!e.retryable) return;
          decided = false;
          continue;
        }
        if (job.round === 0) logger.info({ promotionId: p.id, application: name }, 'Argo CD refresh requested');
        const observed = await observe(env, apps, state);
        const ours = observed.filter((o) => itemsOf(p).some((i) => i.app === o.app && i.tag === o.tag));
        if (ours.length < apps.length || ours.some((o) => o.verdict === 'progressing')) decided = false;
      }
      // After a healthy verdict comes the watch window; instead of one, a Rollout waiting for a person: rollout-watch.ts follows.
      const healthy = decided && (await store.get(p.id))?.health === 'healthy';
      if (deps.rollouts && (await deps.rollouts.takeOver(p, healthy))) return;
      if (decided) return;
      const elapsed = deps.now().getTime() - Date.parse(job.since);
      if (elapsed >= argocd.watchTimeoutMs) {
        logger.info({ promotionId: p.id, env: p.env }, 'stopped following the deploy: no verdict from Argo CD in time');
        return;
      }
      await enqueue(p.id, job.round + 1, job.since, Math.min(MAX_RECHECK_MS, FIRST_RECHECK_MS * 2 ** job.round));
    },

    /** An Argo CD notification (or any Application state pushed to us) about the named Application. */
    async notice(state: ApplicationState): Promise<Array<{ env: string; app: string; tag?: string; verdict: string }>> {
      const template = argocd?.applications ?? '{{app}}-{{env}}';
      const matches = matchApplication(template, state.name, deps.apps.map((a) => a.name), deps.environments.map((e) => e.name));
      const out: Array<{ env: string; app: string; tag?: string; verdict: string }> = [];
      for (const match of matches) {
        const env = envNamed(match.env);
        if (!env) continue;
        let known = state;
        // A notification without a revision cannot say which version it is about: ask Argo CD itself.
        if (!known.revision && !known.operationRevision && argocd) known = { ...(await argocd.client.getApplication(state.name)), ...stripUndefined(state) };
        for (const o of await observe(env, match.app ? [match.app] : deps.apps.map((a) => a.name), known)) {
          out.push({ env: env.name, app: o.app, ...(o.tag ? { tag: o.tag } : {}), verdict: o.tag === undefined ? 'unknown revision' : o.verdict });
        }
      }
      return out;
    },

    /**
     * The `healthy` gate's source: a deploy report about this very tag wins; otherwise Argo CD is asked
     * (Synced, Healthy, Succeeded at a revision that runs the tag).
     */
    health: {
      async status(envName, app, tag) {
        const reported = await reports.status(envName, app, tag);
        if (reported !== 'unknown' || !argocd) return reported;
        const env = envNamed(envName);
        if (!env) return 'unknown';
        try {
          const state = await argocd.client.getApplication(nameOf(envName, app));
          const [o] = await observe(env, [app], state);
          if (!o || o.tag !== tag) return 'unknown';
          return o.verdict === 'deployed' ? 'deployed' : o.verdict === 'degraded' || o.verdict === 'failed' ? 'degraded' : 'unknown';
        } catch (error) {
          logger.warn({ env: envName, app, err: toHoistError(error).message }, 'Argo CD health read failed; the gate keeps waiting');
          return 'unknown';
        }
      },
    } satisfies HealthSource,
  };
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  // 'Unknown' is what a notification without the field carries: what Argo CD just said wins over it.
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined && v !== '' && v !== 'Unknown')) as Partial<T>;
}

export type DeployWatch = ReturnType<typeof createDeployWatch>;
