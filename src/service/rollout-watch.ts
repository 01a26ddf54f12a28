import { randomBytes } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { ApplicationState, ArgoCdClient, ResourceRef } from '../argocd/client.js';
import type { DeployVerdict } from '../argocd/judge.js';
import { applicationName } from '../argocd/names.js';
import type { Rbac } from '../domain/access.js';
import {
  actionRefusal,
  decideAutoPromote,
  formatRollout,
  judgeRollout,
  mayDriveRollout,
  readRollout,
  runsTag,
  type RolloutAction,
  type RolloutState,
} from '../domain/rollout.js';
import { itemsOf, type App, type Environment, type Promotion } from '../domain/types.js';
import { HoistError, toHoistError } from '../errors.js';
import type { DeploymentReports } from '../store/deployment-reports.js';
import type { PromotionStore } from '../store/promotion-store.js';
import type { RolloutRecords } from '../store/rollouts.js';
import type { CellView, OverviewService } from './overview.js';
import type { Actor, EnvironmentStatus, PromotionService, PromotionView, RolloutTarget } from './promotion-service.js';

/** Rounds of a promotion's watch after its commit, on the follow-up queue: a Rollout on its way, then the window. */
export const ROLLOUT_JOB = 'follow-rollout';

export const rolloutJobSchema = z.object({
  promotionId: z.string().min(1),
  /** Drives the backoff. */
  round: z.number().int().min(0).default(0),
  /** Which chain of rounds this is (job ids must not meet those of an earlier chain's kept failures). */
  chain: z.string().min(1),
  /** A look at once (a notification came, a person acted), outside the chain: it schedules nothing. */
  once: z.boolean().default(false),
  /** The last change the previous round knew of: a newer one starts the backoff again. */
  seen: z.string().optional(),
});
export type RolloutJob = z.output<typeof rolloutJobSchema>;

export interface RolloutWatchDeps {
  argocd?: { client: ArgoCdClient; applications: string; watchTimeoutMs: number } | undefined;
  environments: readonly Environment[];
  apps: readonly App[];
  rbac?: Rbac | undefined;
  store: PromotionStore;
  records: RolloutRecords;
  reports: Pick<DeploymentReports, 'landedBy'>;
  followups: Queue<RolloutJob>;
  logger: Logger;
  now: () => Date;
  /**
   * Judges an Application state as the deploy watch does (deploy reports, degraded and autoRollback, healthy, the
   * gates that wait on it): the deploy watch's `notice`.
   */
  judge(state: ApplicationState): Promise<Array<{ env: string; app: string; tag?: string; verdict: string }>>;
  /** The rollback after an abort: the service's own, as the person who aborted. */
  rollback(input: { app: string; env: string; why: string }, actor: Actor): Promise<PromotionView>;
}

const FIRST_RECHECK_MS = 2_000;
const MAX_RECHECK_MS = 60_000;
/** Longer than the longest wait between two rounds: a chain whose jobs died lets a new one start after this. */
const CHAIN_TTL_MS = 10 * 60_000;
/** How long one autoPromote decision may take (two reads and the action) before another may decide. */
const DECISION_TTL_MS = 60_000;
/** An Application with more Rollouts than this is read this far when looking for an app's one. */
const MAX_ROLLOUTS_READ = 5;
const VERDICT_ORDER: readonly DeployVerdict[] = ['deployed', 'progressing', 'degraded', 'failed'];

const imageName = (image: string) => image.split('@')[0]?.replace(/:[^:/]*$/, '') ?? image;

/**
 * Follows what happens in an environment after Hoist's commit there, past the first "Synced and Healthy":
 * - a Rollout (Argo Rollouts) the Application holds: its steps, pauses and weight, read through Argo CD's API
 *   (the resource tree, then the Rollout's live manifest); its own health has the last word on the version;
 * - the watch window: after the version turned healthy, Argo CD is read on until `watch` ends, so a late Degraded
 *   still marks the promotion degraded (and rolls back with autoRollback); a newer promotion ends the window;
 * - autoPromote: resume a pause that waits for someone once the canary has been healthy long enough;
 * - the actions people take (resume, promote-full, abort, the last followed by a rollback commit).
 */
export function createRolloutWatch(deps: RolloutWatchDeps) {
  const { argocd, records, store, reports, logger } = deps;
  const envNamed = (name: string) => deps.environments.find((e) => e.name === name);
  const appNamed = (name: string) => deps.apps.find((a) => a.name === name);
  const nameOf = (env: string, app: string) => applicationName(argocd?.applications ?? '{{app}}-{{env}}', { app, env });

  /** The app's Rollout among an Application's resources (there is rarely more than one), read live. */
  const findRollout = async (client: ArgoCdClient, application: string, app: App): Promise<{ ref: ResourceRef; state: RolloutState } | undefined> => {
    const nodes = (await client.resourceTree(application)).filter((n) => n.group === 'argoproj.io' && n.kind === 'Rollout');
    const ordered = [...nodes.filter((n) => n.name === app.name), ...nodes.filter((n) => n.name !== app.name)].slice(0, MAX_ROLLOUTS_READ);
    for (const node of ordered) {
      // Argo CD leaves the version out of a node when it is empty; Rollouts have had one version, v1alpha1.
      const ref: ResourceRef = { group: node.group, version: node.version || 'v1alpha1', kind: node.kind, namespace: node.namespace, name: node.name };
      const state = readRollout(await client.getResource(application, ref));
      if (!state) continue;
      if (nodes.length === 1 || node.name === app.name || state.images.some((i) => imageName(i) === app.image)) return { ref, state };
    }
    return undefined;
  };

  /** Keeps what was read for the promotion that landed this version (and tells the board when it changed). */
  const remember = async (env: Environment, app: string, tag: string, found: { ref: ResourceRef; state: RolloutState }, applicationHealth: string) => {
    const id = await reports.landedBy(env.name, app);
    const p = id ? await store.get(id) : undefined;
    if (!p || !itemsOf(p).some((i) => i.app === app && i.tag === tag)) return;
    const view = found.state.view;
    const summary = `${formatRollout(view)}${view.message ? ` (${view.message})` : ''}`;
    const before = await records.app(p.id, app);
    const at = deps.now().toISOString();
    const changed = before?.summary !== summary || before.tag !== tag;
    await records.updateApp(p.id, app, { tag, state: found.state, ref: found.ref, applicationHealth, summary, at }, changed ? { id: p.id, env: env.name, app, tag, text: formatRollout(view) } : undefined);
    if (changed) await records.update(p.id, { lastChange: at });
  };

  const enqueue = (promotionId: string, chain: string, round: number, delay: number, once = false, seen?: string) =>
    deps.followups.add(
      ROLLOUT_JOB,
      { promotionId, round, chain, once, ...(seen ? { seen } : {}) },
      { jobId: `rollout-${promotionId}-${chain}-${once ? `once-${randomBytes(6).toString('hex')}` : round}`, delay: Math.max(0, Math.round(delay)), removeOnComplete: true, removeOnFail: 100 },
    );

  /** Starts following a promotion, unless a chain of rounds already does. */
  const start = async (promotionId: string, delayMs = FIRST_RECHECK_MS): Promise<boolean> => {
    if (!argocd || !(await records.claim(`chain:${promotionId}`, CHAIN_TTL_MS))) return false;
    await enqueue(promotionId, randomBytes(4).toString('hex'), 0, delayMs);
    return true;
  };

  /** Closes a promotion's watch window early. */
  const endWindow = async (promotionId: string, why: string) => {
    const watch = await records.get(promotionId);
    if (!watch?.watchUntil || Date.parse(watch.watchUntil) <= deps.now().getTime()) return;
    await records.update(promotionId, { watchUntil: deps.now().toISOString(), watchEnded: why });
    logger.info({ promotionId, why }, 'watch window ended early');
  };

  /** autoPromote for one app: resume its pause when the time has come. Says whether a pause is still being timed. */
  const autoPromote = async (client: ArgoCdClient, p: Promotion, env: Environment, app: string, tag: string, application: string): Promise<{ timing: boolean; recheckAt?: Date | undefined }> => {
    const policy = env.rollout?.autoPromote;
    const rec = policy ? await records.app(p.id, app) : undefined;
    if (!policy || !rec || rec.tag !== tag) return { timing: false };
    const decision = decideAutoPromote({ policy, rollout: rec.state, applicationHealth: rec.applicationHealth, memory: rec.autoPromote ?? {}, gates: env.gates, now: deps.now() });
    if (!decision.resume) {
      await records.updateApp(p.id, app, { autoPromote: decision.memory });
      logger.debug({ promotionId: p.id, env: env.name, app, why: decision.reason }, 'autoPromote waits');
      return { timing: rec.state.waitingPause !== undefined, recheckAt: decision.recheckAt };
    }
    // One decider at a time, on the Rollout as it is now: a second resume on stale memory would skip the next pause.
    const lock = `auto:${p.id}:${app}`;
    if (!(await records.claim(lock, DECISION_TTL_MS))) return { timing: true };
    try {
      const configured = appNamed(app);
      const live = configured ? await findRollout(client, application, configured) : undefined;
      const fresh = await records.app(p.id, app);
      const key = live?.state.waitingPause?.key;
      const resumed = fresh?.autoPromote?.resumed ?? [];
      if (!live || !key || key !== rec.state.waitingPause?.key || resumed.includes(key)) return { timing: true };
      await client.runResourceAction(application, live.ref, 'resume');
      await records.updateApp(p.id, app, { autoPromote: { resumed: [...resumed, key].slice(-50) } });
      logger.info({ promotionId: p.id, env: env.name, app, rollout: live.ref.name, why: decision.reason }, 'autoPromote resumed the Rollout');
    } catch (error) {
      // Nothing is remembered as resumed: the next round tries again.
      logger.warn({ promotionId: p.id, app, err: toHoistError(error).message }, 'autoPromote could not resume the Rollout');
    } finally {
      await records.release(lock);
    }
    return { timing: true };
  };

  /** One round: read each Application the promotion touched, judge it, time autoPromote, and decide when to look again. */
  const round = async (job: RolloutJob): Promise<void> => {
    if (!argocd) return;
    const { client } = argocd;
    const stop = async (why?: string, fields: Record<string, unknown> = {}) => {
      if (!job.once) await records.release(`chain:${job.promotionId}`);
      if (why) logger.info({ promotionId: job.promotionId, ...fields }, why);
    };
    const p = await store.get(job.promotionId);
    const env = p && envNamed(p.env);
    if (!p || !env || p.state !== 'committed') return stop();
    if (!job.once) await records.renew(`chain:${p.id}`, CHAIN_TTL_MS);
    for (const item of itemsOf(p)) {
      if ((await reports.landedBy(env.name, item.app)) === p.id) continue;
      await endWindow(p.id, `a newer promotion landed ${item.app} in ${env.name}`);
      return stop('stopped watching: a newer promotion landed in its environment', { env: env.name, app: item.app });
    }
    const byApplication = new Map<string, string[]>();
    for (const item of itemsOf(p)) byApplication.set(nameOf(env.name, item.app), [...(byApplication.get(nameOf(env.name, item.app)) ?? []), item.app]);
    const verdicts: string[] = [];
    let timing = false;
    const rechecks: number[] = [];
    for (const [application, apps] of byApplication) {
      let state: ApplicationState;
      try {
        state = await client.getApplication(application);
      } catch (error) {
        const e = toHoistError(error);
        logger.warn({ promotionId: p.id, application, err: e.message }, 'Argo CD read failed');
        if (!e.retryable) return stop();
        verdicts.push('unknown');
        continue;
      }
      const observed = await deps.judge(state);
      for (const app of apps) {
        const tag = itemsOf(p).find((i) => i.app === app)?.tag ?? p.tag;
        const o = observed.find((x) => x.env === env.name && x.app === app);
        const verdict = o?.tag === tag ? o.verdict : 'progressing';
        verdicts.push(verdict);
        if (verdict !== 'progressing') continue;
        const auto = await autoPromote(client, p, env, app, tag, application);
        timing ||= auto.timing;
        if (auto.recheckAt) rechecks.push(auto.recheckAt.getTime());
      }
    }
    // The judgement may have ended it (degraded, rolled back).
    const current = await store.get(p.id);
    if (!current || current.state !== 'committed') return stop();
    const at = deps.now().getTime();
    const watch = await records.get(p.id);
    if (verdicts.every((v) => v === 'deployed')) {
      let until = watch?.watchUntil;
      if (!until) {
        if (!env.watchMs) return stop();
        until = new Date(at + env.watchMs).toISOString();
        await records.update(p.id, { watchUntil: until });
        logger.info({ promotionId: p.id, env: env.name, watchUntil: until }, 'healthy: watching Argo CD until the window ends');
      }
      if (at >= Date.parse(until)) return stop('the watch window ended', { env: env.name });
      rechecks.push(Date.parse(until));
    } else if (!verdicts.includes('unknown') && !timing) {
      // A Rollout that stands still (paused for a person) is let go after watchTimeout; an action or a notification picks it up again.
      const last = Date.parse(watch?.lastChange ?? current.updatedAt);
      if (at - last >= argocd.watchTimeoutMs) return stop('stopped following the Rollout: nothing changed in watchTimeout (an action or an Argo CD notification picks it up again)', { env: env.name });
    }
    if (job.once) return;
    // Backing off while nothing changes; a Rollout that moves is read often again.
    const round = watch?.lastChange !== job.seen ? 0 : job.round;
    const backoff = Math.min(MAX_RECHECK_MS, FIRST_RECHECK_MS * 2 ** round);
    const soonest = rechecks.length > 0 ? Math.min(...rechecks) - at : backoff;
    await enqueue(p.id, job.chain, job.round + 1, Math.min(backoff, Math.max(1_000, soonest)), false, watch?.lastChange);
  };

  /** An abort is followed by a rollback commit, so the next sync does not bring the aborted version back. */
  const afterAbort = async (p: Promotion, env: Environment, item: { app: string; tag: string }, actor: Actor) => {
    const why = `${actor.name} aborted the Rollout of ${item.app}:${item.tag} in ${env.name} via ${actor.via}`;
    await store.transact(p.id, (cur) => (cur.state === 'committed' ? { state: 'degraded', health: 'degraded', reason: why } : {}));
    // The deploy watch may have seen the Rollout Degraded first and rolled back already (autoRollback).
    if ((await store.get(p.id))?.rolledBackBy) return;
    try {
      const rollback = await deps.rollback({ app: item.app, env: env.name, why: `rollback after an abort: ${why}` }, actor);
      await store.update(p.id, { rolledBackBy: rollback.id, reason: `${why}; rolled back to ${rollback.tag} by promotion ${rollback.id}` });
      logger.warn({ promotionId: p.id, rollback: rollback.id, tag: rollback.tag, by: actor.name }, 'Rollout aborted: rolling back');
    } catch (error) {
      const message = toHoistError(error).message;
      await store.update(p.id, { reason: `${why}; rollback not possible: ${message}` });
      logger.error({ promotionId: p.id, err: message }, 'Rollout aborted, but the rollback could not start');
    }
  };

  const conflict = (message: string) => new HoistError('conflict', message);

  /** A person's action on a Rollout; resolves to the promotion's id once Argo CD accepted it. */
  const act = async (target: RolloutTarget, action: RolloutAction, actor: Actor): Promise<string> => {
    let id: string;
    if ('id' in target) {
      id = target.id;
    } else {
      if (!envNamed(target.env)) throw new HoistError('bad_request', `unknown environment "${target.env}" (known: ${deps.environments.map((e) => e.name).join(', ')})`);
      if (!appNamed(target.app)) throw new HoistError('bad_request', `unknown app "${target.app}" (known: ${deps.apps.map((a) => a.name).join(', ')})`);
      const landed = await reports.landedBy(target.env, target.app);
      if (!landed) throw new HoistError('not_found', `Hoist has not landed ${target.app} in ${target.env} (as far as its records go): there is no Rollout of its to drive`);
      id = landed;
    }
    const p = /^[A-Za-z0-9_-]{1,100}$/.test(id) ? await store.get(id) : undefined;
    if (!p) throw new HoistError('not_found', `no promotion with id "${id.slice(0, 100)}"`);
    const env = envNamed(p.env);
    if (!env) throw new HoistError('bad_request', `environment ${p.env} is not configured any more`);
    const appName = target.app ?? p.app;
    const item = itemsOf(p).find((i) => i.app === appName);
    const app = appNamed(appName);
    if (!item || !app) throw new HoistError('bad_request', `promotion ${p.id} has no app "${appName}" (it has ${itemsOf(p).map((i) => i.app).join(', ')})`);
    const verdict = mayDriveRollout(deps.rbac, env, action, actor, p.source.kind === 'manual' ? p.source.by : undefined);
    if (!verdict.ok) throw new HoistError('forbidden', verdict.reason);
    if (!argocd) throw conflict('Argo CD is not configured (argocd): Hoist drives Rollouts through its API');
    if (p.state !== 'committed') throw conflict(`promotion ${p.id} is ${p.state}: only the Rollout of a committed version can be driven`);
    if ((await reports.landedBy(env.name, app.name)) !== p.id) throw conflict(`a newer promotion has landed ${app.name} in ${env.name} since ${p.id}: drive that one`);
    const { client } = argocd;
    const application = nameOf(env.name, app.name);
    const found = await findRollout(client, application, app);
    if (!found) throw conflict(`Argo CD's Application ${application} holds no Rollout of ${app.name}: nothing to ${action}`);
    if (!runsTag(found.state, item.tag)) throw conflict(`Rollout ${found.ref.name} does not run ${app.name}:${item.tag} (yet): Argo CD has not synced it`);
    const refusal = actionRefusal(found.state, action);
    if (refusal) throw conflict(refusal);
    try {
      await client.runResourceAction(application, found.ref, action);
    } catch (error) {
      const e = toHoistError(error);
      // Argo CD refusing Hoist's own token is no refusal of this person: say what Argo CD said, as a conflict.
      throw e.code === 'unavailable' ? e : new HoistError('conflict', `Argo CD did not run ${action}: ${e.message}`, { cause: e });
    }
    logger.info({ promotionId: p.id, env: env.name, app: app.name, rollout: found.ref.name, action, by: actor.name, via: actor.via }, 'Rollout action run');
    // Show the Rollout as the action left it; the watch's rounds take it from there.
    try {
      const after = await findRollout(client, application, app);
      if (after) await remember(env, app.name, item.tag, after, (await client.getApplication(application)).health);
    } catch (error) {
      logger.warn({ promotionId: p.id, err: toHoistError(error).message }, 'could not read the Rollout back after the action');
    }
    if (action === 'abort') await afterAbort(p, env, item, actor);
    // The Rollout moves now: look again soon, in the chain that follows it or a new one.
    else if (!(await start(p.id))) await enqueue(p.id, 'action', 0, FIRST_RECHECK_MS, true);
    return p.id;
  };

  /** Adds `rollout` and `watchUntil` to promotion views. */
  const decorate = async (views: PromotionView[]): Promise<PromotionView[]> => {
    if (views.length === 0) return views;
    const found = await records.many(views.map((v) => [v.id, v.app] as const));
    return views.map((v) => {
      const r = found.get(v.id);
      const rollout = r?.app && r.app.tag === v.tag ? r.app.state.view : undefined;
      return { ...v, ...(rollout ? { rollout } : {}), ...(r?.watch?.watchUntil ? { watchUntil: r.watch.watchUntil } : {}) };
    });
  };

  return {
    /** For the deploy watch: a Rollout has the last word on its version (paused is not healthy, aborted is degraded). */
    async refine(input: { env: Environment; app: string; tag: string; state: ApplicationState; verdict: DeployVerdict }): Promise<{ verdict: DeployVerdict; why?: string }> {
      const { env, tag, state, verdict } = input;
      const app = appNamed(input.app);
      if (!argocd || !app || verdict === 'failed') return { verdict };
      let found: Awaited<ReturnType<typeof findRollout>>;
      try {
        found = await findRollout(argocd.client, state.name, app);
      } catch (error) {
        const e = toHoistError(error);
        logger.warn({ application: state.name, app: app.name, err: e.message }, "cannot read the Application's Rollouts");
        // Not healthy on the Application's word while its Rollout cannot be read now; a lasting refusal leaves the Application's.
        return e.retryable && verdict === 'deployed' ? { verdict: 'progressing' } : { verdict };
      }
      if (!found) return { verdict };
      if (!runsTag(found.state, tag)) return verdict === 'deployed' ? { verdict: 'progressing', why: `Rollout ${found.ref.name} does not run ${tag} yet` } : { verdict };
      await remember(env, app.name, tag, found, state.health);
      const judged = judgeRollout(found.state);
      return VERDICT_ORDER.indexOf(judged.verdict) > VERDICT_ORDER.indexOf(verdict) ? { verdict: judged.verdict, why: judged.why } : { verdict };
    },

    /**
     * For the deploy watch, when its own following ends or stalls: a healthy version goes into its watch window, a
     * Rollout on its way is followed here (with no give-up while a person has yet to act). True when this took over.
     */
    async takeOver(p: Promotion, healthy: boolean): Promise<boolean> {
      const env = envNamed(p.env);
      if (!argocd || !env) return false;
      if (healthy) {
        if (!env.watchMs) return false;
        const watch = await records.get(p.id);
        if (!watch?.watchUntil) await records.update(p.id, { watchUntil: new Date(deps.now().getTime() + env.watchMs).toISOString() });
        await start(p.id);
        return true;
      }
      const seen = await records.many(itemsOf(p).map((i) => [p.id, i.app] as const));
      if (![...seen.values()].some((r) => r.app)) return false;
      await start(p.id);
      return true;
    },

    /** A newer promotion landed: the older one's watch window ends now. */
    async landed(p: Promotion): Promise<void> {
      if (!argocd) return;
      for (const item of itemsOf(p)) {
        const before = await reports.landedBy(p.env, item.app);
        if (before && before !== p.id) await endWindow(before, `promotion ${p.id} landed ${item.app}:${item.tag} in ${p.env}`);
      }
    },

    /** An Argo CD notification: look again at once at the promotions it concerns (a chain of rounds again if none runs). */
    async noticed<T extends { env: string; app: string }>(observed: T[]): Promise<T[]> {
      if (!argocd) return observed;
      const seen = new Set<string>();
      for (const o of observed) {
        const id = await reports.landedBy(o.env, o.app);
        if (!id || seen.has(id)) continue;
        seen.add(id);
        if (!(await start(id, 0))) await enqueue(id, 'notice', 0, 0, true);
      }
      return observed;
    },

    round,
    act,
    decorate,

    /** `status`'s apps with the Rollout each runs, where Hoist follows one. */
    async decorateStatus(status: EnvironmentStatus): Promise<EnvironmentStatus> {
      const pairs = status.environments.flatMap((e) => e.apps.filter((a) => a.tag !== null).map((a) => ({ env: e.name, app: a.app, tag: a.tag })));
      const ids = await Promise.all(pairs.map((x) => reports.landedBy(x.env, x.app)));
      const found = await records.many(pairs.flatMap((x, i) => (ids[i] ? [[ids[i], x.app] as const] : [])));
      const rolloutOf = (env: string, app: string, tag: string | null) => {
        const i = pairs.findIndex((x) => x.env === env && x.app === app);
        const rec = i >= 0 && ids[i] ? found.get(ids[i])?.app : undefined;
        return rec && rec.tag === tag ? rec.state.view : undefined;
      };
      return {
        ...status,
        environments: status.environments.map((e) => ({
          ...e,
          apps: e.apps.map((a) => {
            const rollout = rolloutOf(e.name, a.app, a.tag);
            return rollout ? { ...a, rollout } : a;
          }),
        })),
      };
    },

    /** The overview's cells with the Rollout of the promotion that put their tag there. */
    async decorateCells(cells: CellView[]): Promise<CellView[]> {
      const withPromotion = cells.filter((c) => c.promotion !== undefined);
      const found = await records.many(withPromotion.map((c) => [c.promotion as string, c.app] as const));
      return cells.map((c) => {
        const rec = c.promotion ? found.get(c.promotion)?.app : undefined;
        return rec && rec.tag === c.tag ? { ...c, rollout: rec.state.view } : c;
      });
    },
  };
}

export type RolloutWatch = ReturnType<typeof createRolloutWatch>;

/**
 * The promotion service as every surface sees it: views carry `rollout` and `watchUntil`, `status` the Rollout
 * each app runs, and `rollout(…)` drives one. The same object backs the API, the board, chat and GitLab comments.
 */
export function withRollouts<S extends PromotionService>(service: S, watch: RolloutWatch): S {
  const one = async (view: PromotionView) => (await watch.decorate([view]))[0] as PromotionView;
  return {
    ...service,
    requestPromotion: async (input, actor) => one(await service.requestPromotion(input, actor)),
    approve: async (id, actor) => one(await service.approve(id, actor)),
    cancel: async (id, actor) => one(await service.cancel(id, actor)),
    rollback: async (input, actor) => one(await service.rollback(input, actor)),
    get: async (id) => one(await service.get(id)),
    list: async (filter) => watch.decorate(await service.list(filter)),
    listPending: async (env) => watch.decorate(await service.listPending(env)),
    status: async (app) => watch.decorateStatus(await service.status(app)),
    rollout: async (target, action, actor) => one(await service.get(await watch.act(target, action, actor))),
  };
}

/** The overview (board, `hoist status`) with each cell's Rollout. */
export function withRolloutCells(overview: OverviewService, watch: RolloutWatch): OverviewService {
  return {
    ...overview,
    read: async (options) => {
      const read = await overview.read(options);
      return { ...read, cells: await watch.decorateCells(read.cells) };
    },
  };
}
