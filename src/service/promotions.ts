import { createHash, randomBytes } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import { mayApprove, mayPromote, type Rbac } from '../domain/access.js';
import { evaluateGates, type Health } from '../domain/gates.js';
import { firstTrusted, hasBeenIn, landingsOf, outsideChangesOf, type Landing } from '../domain/history.js';
import type { HealthSource, HistoryCommit, Previewer, RepoReader } from '../domain/ports.js';
import { itemsOf, PENDING_STATES, TERMINAL_STATES, targetOf, type App, type Environment, type Promotion, type PromotionItem, type PromotionKind } from '../domain/types.js';
import { HoistError } from '../errors.js';
import type { PromotionStore } from '../store/promotion-store.js';
import type { Actor, HistoryEntry, LandedEntry, OutsideEntry, PromotionService, PromotionView } from './promotion-service.js';
import { GATE_JOB, PROMOTE_JOB, type GateJob, type PromotionJob } from './promotion-job.js';

export interface PromotionServiceDeps {
  environments: readonly Environment[];
  apps: readonly App[];
  rbac?: Rbac | undefined;
  store: PromotionStore;
  queue: Queue<PromotionJob>;
  gateQueue: Queue<GateJob>;
  reader: RepoReader;
  health: HealthSource;
  logger: Logger;
  now: () => Date;
  /** Longest wait between two gate checks of a waiting promotion. */
  gateIntervalMs: number;
  /** Told about every gate found closed (metrics). */
  onGateWait?: (env: string, gate: string) => void;
  /** Told about every promotion cancelled by someone (closes its merge request, if it has one). */
  onCancelled?: (p: Promotion) => Promise<void>;
  /** Renders what a promotion would change (the board's dialog, `hoist diff`); absent on processes without one. */
  previewer?: Previewer | undefined;
}

/** How many commits that touched an overlay the chain check, rollbacks and history look back through. */
const HISTORY_LIMIT = 2_000;

const HISTORY_KINDS = new Set(['pipeline', 'manual', 'gated', 'rollback']);

function kindOf(p: Promotion): PromotionKind {
  return p.source.kind;
}

export function toView(p: Promotion, env: Environment | undefined): PromotionView {
  const given = p.approvals ?? [];
  const required = env?.approvals?.required ?? 0;
  return {
    id: p.id,
    app: p.app,
    env: p.env,
    tag: p.tag,
    apps: itemsOf(p).map(({ app, tag }) => ({ app, tag })),
    state: p.state,
    kind: kindOf(p),
    ...(p.commit ? { commit: p.commit } : {}),
    ...(p.error ? { error: p.error } : {}),
    ...(p.reason ? { reason: p.reason } : {}),
    ...(p.source.kind === 'manual' || p.source.kind === 'rollback' ? { requestedBy: p.source.by } : {}),
    ...(p.gates ? { gates: p.gates as PromotionView['gates'] } : {}),
    ...(required > 0 && p.source.kind === 'manual' ? { approvals: { required, given, missing: Math.max(0, required - given.length) } } : {}),
    ...(p.mergeRequest ? { mergeRequest: p.mergeRequest } : {}),
    ...(p.health ? { health: p.health } : {}),
    ...(p.rolledBackBy ? { rolledBackBy: p.rolledBackBy } : {}),
    ...(p.commits ? { commits: p.commits } : {}),
    ...(p.digests ? { digests: p.digests } : {}),
    image: p.image,
    attempts: p.attempts,
    source: p.source.kind === 'pipeline' ? { kind: 'pipeline', url: p.source.url, pipelineId: p.source.pipelineId, project: p.source.project } : { kind: p.source.kind, ...(p.source.url ? { url: p.source.url } : {}) },
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
  };
}

export function hasGates(env: Environment): boolean {
  const g = env.gates;
  return g !== undefined && (g.soakMs !== undefined || g.healthy === true || g.window !== undefined || (g.freeze?.length ?? 0) > 0);
}

const worstHealth = (all: Health[]): Health => (all.includes('degraded') ? 'degraded' : all.includes('unknown') ? 'unknown' : 'deployed');

/**
 * The promotion use cases: requests, approvals, cancellations, rollbacks, gate checks and the chain
 * reaction after a commit. Decisions come from domain/; this only gathers facts and stores results.
 */
export function createPromotionService(deps: PromotionServiceDeps): PromotionService & {
  checkGates(id: string): Promise<void>;
  afterCommit(p: Promotion): Promise<void>;
  deploymentReported(env: string, app: string): Promise<void>;
  /** Rolls a degraded promotion's app back to the environment's previous tag (autoRollback). */
  rollbackDegraded(p: Promotion, why: string): Promise<Promotion>;
} {
  const { store, reader, logger, now } = deps;
  const groups = deps.rbac?.groups ?? {};

  const envNamed = (name: string): Environment => {
    const env = deps.environments.find((e) => e.name === name);
    if (!env) throw new HoistError('bad_request', `unknown environment "${name}" (known: ${deps.environments.map((e) => e.name).join(', ')})`);
    return env;
  };
  const appNamed = (name: string): App => {
    const app = deps.apps.find((a) => a.name === name);
    if (!app) throw new HoistError('bad_request', `unknown app "${name}" (known: ${deps.apps.map((a) => a.name).join(', ')})`);
    return app;
  };
  const requirePromote = (env: Environment, actor: Actor) => {
    const verdict = mayPromote(deps.rbac, env.name, actor);
    if (!verdict.ok) throw new HoistError('forbidden', verdict.reason);
  };

  /** Every commit that touched an overlay, each judged Hoist's own (signed) or an outside change. */
  const readHistory = (): Promise<HistoryCommit[]> => reader.history(deps.environments.map((e) => e.name), HISTORY_LIMIT);

  /**
   * What the environment ran before Hoist's first commit the history reaches, per app (none when Hoist wrote nothing
   * there): Hoist's first commit in the repository where the app lives in that environment.
   */
  const seedTags = async (commits: readonly HistoryCommit[], env: Environment): Promise<Map<string, string | undefined>> => {
    const out = new Map<string, string | undefined>();
    for (const app of deps.apps) {
      const repo = targetOf(env, app).repo;
      const first = firstTrusted(commits.filter((c) => c.repo === undefined || c.repo === repo));
      const images = first ? await reader.imagesAt(`${first}^`, env.name, app.name) : undefined;
      out.set(app.name, images?.find((i) => i.name === app.image)?.tag);
    }
    return out;
  };

  const currentTags = async (envs: readonly Environment[]): Promise<Map<string, Map<string, string | undefined>>> => {
    const snapshot = await reader.snapshot(envs.map((e) => e.name));
    const out = new Map<string, Map<string, string | undefined>>();
    for (const env of envs) {
      const state = snapshot.environments[env.name];
      if (!state || 'error' in state) throw new HoistError('bad_request', `cannot read ${env.name}'s overlay: ${state?.error ?? 'missing'}`);
      out.set(env.name, new Map(deps.apps.map((a) => [a.name, state.images.find((i) => i.name === a.image)?.tag])));
    }
    return out;
  };

  // A queue that does not answer is Redis being away (503); the record is stored, so asking again is safe.
  const queueDown = (cause: unknown): never => {
    throw new HoistError('unavailable', `the job queue (Redis) is unreachable or did not answer in time; the request may or may not have been queued: ${(cause as Error).message}`, { cause });
  };
  const enqueuePromote = (p: Promotion) => deps.queue.add(PROMOTE_JOB, { promotionId: p.id, createdAt: p.createdAt }, { jobId: p.id }).catch(queueDown);
  const enqueueGateCheck = (id: string, delayMs = 0) =>
    deps.gateQueue.add(GATE_JOB, { promotionId: id }, { delay: Math.max(0, Math.round(delayMs)), removeOnComplete: true, removeOnFail: 100 }).catch(queueDown);

  /** Hands a promotion on to what comes next: its gates, or the writer. */
  const advance = async (p: Promotion) => {
    if (p.state === 'queued') await enqueuePromote(p);
    else if (p.state === 'waiting') await enqueueGateCheck(p.id);
  };

  /** `pending: supersede`: an older waiting promotion of the same app and environment gives way. */
  const supersedeOlder = async (env: Environment, newer: Promotion) => {
    if (env.pending !== 'supersede') return;
    const apps = new Set(itemsOf(newer).map((i) => i.app));
    for (const old of await store.pending(env.name)) {
      if (old.id === newer.id || !itemsOf(old).some((i) => apps.has(i.app))) continue;
      await store
        .transact(old.id, (cur) => {
          if (!PENDING_STATES.has(cur.state)) return {};
          return { state: 'superseded', reason: `superseded by promotion ${newer.id} (${itemsOf(newer).map((i) => `${i.app} ${i.tag}`).join(', ')})` };
        })
        .catch((error: unknown) => logger.warn({ err: (error as Error).message, promotionId: old.id }, 'could not supersede'));
    }
  };

  /** A new promotion record: the first item is also its app/image/tag; trains keep every item. */
  const newPromotion = (id: string, env: Environment, items: readonly PromotionItem[], source: Promotion['source'], state: Promotion['state']): Promotion => {
    const at = now().toISOString();
    const [first] = items as [PromotionItem];
    return {
      id,
      app: first.app,
      env: env.name,
      image: first.image,
      path: env.path,
      tag: first.tag,
      ...(items.length > 1 ? { items: [...items] } : {}),
      source,
      state,
      createdAt: at,
      updatedAt: at,
      attempts: 0,
    };
  };
  const randomId = () => `p-${randomBytes(12).toString('hex')}`;

  const initialState = (env: Environment, kind: PromotionKind): Promotion['state'] => {
    if (kind === 'rollback') return 'queued';
    if (kind === 'manual' && env.approvals) return 'awaiting-approval';
    return hasGates(env) ? 'waiting' : 'queued';
  };

  /** A rollback is a new commit that puts back a tag from the environment's own history. */
  const startRollback = async (env: Environment, app: App, wanted: string | undefined, by: { by: string; via: string }, why?: string): Promise<Promotion> => {
    const current = (await currentTags([env])).get(env.name)?.get(app.name);
    const commits = await readHistory();
    // Only Hoist's own commits and the state before Hoist's first one count: an outside commit never makes a target.
    const ran = landingsOf(commits).filter((g) => g.app === app.name && g.env === env.name);
    let tag = wanted;
    const seeded = (await seedTags(commits, env)).get(app.name);
    if (tag !== undefined && !ran.some((g) => g.tag === tag) && tag !== seeded) {
      throw new HoistError('bad_request', `${env.name} never ran ${app.name}:${tag} as far as Hoist's signed history goes (rollbacks go back to a tag Hoist landed there, or the one it ran before Hoist's first commit)`);
    }
    tag ??= ran.find((g) => g.tag !== current)?.tag;
    // Before Hoist's first commit, the environment ran what that commit's parent had.
    if (tag === undefined && seeded !== current) tag = seeded;
    if (!tag) throw new HoistError('conflict', `${env.name}'s history holds no earlier tag of ${app.name} than ${current ?? 'none'}`);
    if (tag === current) throw new HoistError('conflict', `${env.name} already runs ${app.name}:${tag}`);
    const provenance = ran.find((g) => g.tag === tag && /^https?:\/\//.test(g.source))?.source;
    const promotion: Promotion = {
      ...newPromotion(randomId(), env, [{ app: app.name, image: app.image, tag }], { kind: 'rollback', by: by.by, via: by.via, url: provenance, ...(why ? { why } : {}) }, 'queued'),
      reason: why ? `${why}; rollback from ${current ?? 'none'}` : `rollback from ${current ?? 'none'}`,
    };
    await store.ensure(promotion);
    await enqueuePromote(promotion);
    logger.info({ promotionId: promotion.id, env: env.name, app: app.name, tag, from: current, by: by.by, via: by.via }, 'rollback requested');
    return promotion;
  };

  /** What a promotion request would land (apps at their tags), or the refusal it gets: the chain, "already runs". */
  const planRequest = async (env: Environment, input: { apps: readonly string[]; tag?: string | undefined }): Promise<{ items: PromotionItem[]; provenance: string | undefined }> => {
    const apps = [...new Set(input.apps)].map(appNamed);
    if (apps.length === 0) throw new HoistError('bad_request', 'name at least one app');
    const from = env.from ? envNamed(env.from) : undefined;
    if (!from && !input.tag) throw new HoistError('bad_request', `${env.name} has no "from" environment to take the tag from: name the tag`);
    const tags = await currentTags(from ? [env, from] : [env]);
    const commits = await readHistory();
    const landings = landingsOf(commits);
    const seeds = from ? await seedTags(commits, from) : undefined;
    const items: PromotionItem[] = [];
    let provenance: string | undefined;
    for (const app of apps) {
      const fromTag = from ? tags.get(from.name)?.get(app.name) : undefined;
      const tag = input.tag ?? fromTag;
      if (!tag) throw new HoistError('bad_request', `${from?.name ?? env.name} runs no tag of ${app.name} to promote`);
      if (from && !hasBeenIn(tag, { commits, env: from, app, current: fromTag, seed: seeds?.get(app.name) })) {
        const why = tag === fromTag ? `; ${from.name} runs it, but only because of a commit Hoist did not sign (an outside change grants nothing)` : '';
        throw new HoistError('bad_request', `${app.name}:${tag} has never been in ${from.name}${why}; a promotion never skips the chain (promote it to ${from.name} first)`);
      }
      provenance ??= landings.find((g) => g.app === app.name && g.tag === tag && /^https?:\/\//.test(g.source))?.source;
      items.push({ app: app.name, image: app.image, tag });
    }
    if (items.every((i) => tags.get(env.name)?.get(i.app) === i.tag)) {
      throw new HoistError('conflict', `${env.name} already runs ${items.map((i) => `${i.app}:${i.tag}`).join(', ')}`);
    }
    return { items, provenance };
  };

  const get = async (id: string): Promise<Promotion> => {
    const p = /^[A-Za-z0-9_-]{1,100}$/.test(id) ? await store.get(id) : undefined;
    if (!p) throw new HoistError('not_found', `no promotion with id "${id.slice(0, 100)}"`);
    return p;
  };
  const view = (p: Promotion) => toView(p, deps.environments.find((e) => e.name === p.env));

  return {
    async requestPromotion(input, actor) {
      const env = envNamed(input.to);
      requirePromote(env, actor);
      const { items, provenance } = await planRequest(env, input);
      const promotion = newPromotion(randomId(), env, items, { kind: 'manual', by: actor.name, via: actor.via, url: provenance }, initialState(env, 'manual'));
      await store.ensure(promotion);
      await supersedeOlder(env, promotion);
      await advance(promotion);
      logger.info({ promotionId: promotion.id, env: env.name, apps: items, by: actor.name, via: actor.via, state: promotion.state }, 'promotion requested');
      return view(promotion);
    },

    async preview(input, actor) {
      const env = envNamed(input.to);
      const current = await currentTags([env]);
      const base = { env: env.name, from: env.from ?? null, policy: env.promotion };
      // The same checks as a request, so the dialog shows the refusal the promotion itself would get.
      let planned: Awaited<ReturnType<typeof planRequest>>;
      try {
        requirePromote(env, actor);
        planned = await planRequest(env, input);
      } catch (error) {
        if (!(error instanceof HoistError) || !['forbidden', 'bad_request', 'conflict'].includes(error.code)) throw error;
        const apps = input.apps.map((app) => ({ app, tag: input.tag ?? null, current: current.get(env.name)?.get(app) ?? null }));
        return { ...base, apps, allowed: false, refusal: { code: error.code, error: error.message }, files: [], diff: '' };
      }
      const apps = planned.items.map((i) => ({ app: i.app, tag: i.tag, current: current.get(env.name)?.get(i.app) ?? null }));
      if (!deps.previewer) return { ...base, apps, allowed: true, files: [], diff: '', note: 'no preview on this process (HOIST_ROLE)' };
      const at = now().toISOString();
      const rendered = await deps.previewer.preview(
        planned.items.map((i) => ({ promotionId: 'preview', app: i.app, env: env.name, path: env.path, target: targetOf(env, appNamed(i.app)), image: i.image, tag: i.tag, source: { kind: 'manual', by: actor.name, via: actor.via }, mayHaveLanded: false, createdAt: at })),
      );
      if (rendered.outcome === 'refused') return { ...base, apps, allowed: false, refusal: { code: 'render_failed', error: rendered.reason ?? 'the render check failed' }, files: rendered.files, diff: rendered.diff };
      return { ...base, apps, allowed: true, files: rendered.files, diff: rendered.diff, ...(rendered.reason ? { note: rendered.reason } : {}) };
    },

    async approve(id, actor) {
      const existing = await get(id);
      const env = envNamed(existing.env);
      const approved = await store.transact(id, (cur) => {
        if (cur.state !== 'awaiting-approval') throw new HoistError('conflict', `promotion ${id} is ${cur.state}, not awaiting approval`);
        const policy = env.approvals;
        if (!policy) throw new HoistError('conflict', `${env.name} needs no approvals`);
        const given = cur.approvals ?? [];
        const requestedBy = cur.source.kind === 'manual' ? cur.source.by : undefined;
        const verdict = mayApprove(policy, groups, { requestedBy, approvedBy: given.map((a) => a.by) }, actor);
        if (!verdict.ok) throw new HoistError(verdict.reason.includes('already approved') ? 'conflict' : 'forbidden', verdict.reason);
        const approvals = [...given, { by: actor.name, at: now().toISOString() }];
        const state = approvals.length < policy.required ? 'awaiting-approval' : hasGates(env) ? 'waiting' : 'queued';
        return { approvals, state };
      });
      logger.info({ promotionId: id, by: actor.name, via: actor.via, state: approved.state }, 'promotion approved');
      await advance(approved);
      return view(approved);
    },

    async cancel(id, actor) {
      const existing = await get(id);
      const env = envNamed(existing.env);
      const requester = existing.source.kind === 'manual' ? existing.source.by : undefined;
      if (requester !== actor.name) requirePromote(env, actor);
      const cancelled = await store.transact(id, (cur) => {
        if (TERMINAL_STATES.has(cur.state)) throw new HoistError('conflict', `promotion ${id} already ended: ${cur.state}`);
        if (cur.state === 'running') throw new HoistError('conflict', `promotion ${id} is being written to the GitOps repository and can no longer be cancelled`);
        return { state: 'cancelled', reason: `cancelled by ${actor.name} via ${actor.via}` };
      });
      logger.info({ promotionId: id, by: actor.name, via: actor.via }, 'promotion cancelled');
      await deps.onCancelled?.(cancelled);
      return view(cancelled);
    },

    async rollback(input, actor) {
      const env = envNamed(input.env);
      const app = appNamed(input.app);
      requirePromote(env, actor);
      const promotion = await startRollback(env, app, input.tag, { by: actor.name, via: actor.via }, input.why);
      return view(promotion);
    },

    async rollbackDegraded(p, why) {
      const env = envNamed(p.env);
      const app = appNamed(p.app);
      // Only the version the environment still runs is rolled back; a newer one has already replaced it.
      const current = (await currentTags([env])).get(env.name)?.get(app.name);
      if (current !== p.tag) throw new HoistError('conflict', `${env.name} no longer runs ${app.name}:${p.tag} (it runs ${current ?? 'none'} now)`);
      return startRollback(env, app, undefined, { by: 'hoist', via: 'autoRollback' }, `automatic rollback: ${why}`);
    },

    async get(id) {
      return view(await get(id));
    },

    async list(filter) {
      if (filter.app !== undefined) appNamed(filter.app);
      if (filter.env !== undefined) envNamed(filter.env);
      const found = await store.recent({ ...(filter.states ? { states: new Set(filter.states) } : {}), app: filter.app, env: filter.env, limit: filter.limit });
      return found.map(view);
    },

    async listPending(envName) {
      const envs = envName === undefined ? deps.environments : [envNamed(envName)];
      const out: PromotionView[] = [];
      for (const env of envs) for (const p of await store.pending(env.name)) out.push(view(p));
      return out;
    },

    async status(app) {
      if (app !== undefined) appNamed(app);
      const snapshot = await reader.snapshot(deps.environments.map((e) => e.name));
      return {
        commit: snapshot.commit,
        environments: deps.environments.map((env) => {
          const state = snapshot.environments[env.name];
          const images = state && 'images' in state ? state.images : [];
          return {
            name: env.name,
            apps: deps.apps.filter((a) => app === undefined || a.name === app).map((a) => ({ app: a.name, tag: images.find((i) => i.name === a.image)?.tag ?? null })),
          };
        }),
      };
    },

    async history(filter) {
      if (filter.app !== undefined) appNamed(filter.app);
      if (filter.env !== undefined) envNamed(filter.env);
      const commits = await readHistory();
      const landed = landingsOf(commits).map(
        (g): HistoryEntry => ({
          commit: g.commit,
          ...(g.repo ? { repo: g.repo } : {}),
          date: g.date,
          app: g.app,
          env: g.env,
          tag: g.tag,
          promotion: g.promotion,
          kind: (HISTORY_KINDS.has(g.kind) ? g.kind : 'pipeline') as LandedEntry['kind'],
          source: g.source,
          ...(g.requestedBy ? { requestedBy: g.requestedBy.replace(/ \([^)]*\)$/, '') } : {}),
          approvedBy: g.approvedBy,
          ...(g.digest ? { digest: g.digest } : {}),
        }),
      );
      // An image entry names the app(s) configured with that image; a change of other files names none.
      const outside = outsideChangesOf(commits, deps.environments, deps.apps).flatMap((c): HistoryEntry[] => {
        const entry: OutsideEntry = { commit: c.commit, ...(c.repo ? { repo: c.repo } : {}), date: c.date, kind: 'outside', env: c.env, author: c.author, subject: c.subject, paths: c.paths };
        if (c.image === undefined) return [entry];
        const named = deps.apps.filter((a) => a.image === c.image);
        const change = { image: c.image, tag: c.after?.tag ?? null, previousTag: c.before?.tag ?? null, ...(c.after?.digest ? { digest: c.after.digest } : {}) };
        return named.length > 0 ? named.map((a) => ({ ...entry, app: a.name, ...change })) : [{ ...entry, ...change }];
      });
      const order = new Map(commits.map((c, i) => [c.commit, i]));
      return [...landed, ...outside]
        .filter((e) => (filter.env === undefined || e.env === filter.env) && (filter.app === undefined || e.app === filter.app || (e.kind === 'outside' && e.app === undefined)))
        .sort((a, b) => (order.get(a.commit) ?? 0) - (order.get(b.commit) ?? 0));
    },

    async checkGates(id) {
      const p = await store.get(id);
      if (!p || p.state !== 'waiting') return;
      const env = envNamed(p.env);
      const from = env.from ? envNamed(env.from) : undefined;
      const items = itemsOf(p);
      let landedAt = new Date(p.createdAt);
      const health: Health[] = [];
      if (from) {
        const fromTags = (await currentTags([from])).get(from.name);
        const gone = items.filter((i) => fromTags?.get(i.app) !== i.tag);
        if (p.source.kind === 'gated' && gone.length > 0) {
          // The chain moved on (a newer version or a rollback in `from`): this version no longer qualifies.
          await store.transact(id, (cur) => (cur.state === 'waiting' ? { state: 'cancelled', reason: `${from.name} no longer runs ${gone.map((i) => `${i.app}:${i.tag}`).join(', ')}` } : {}));
          return;
        }
        const groupsInFrom: Landing[] = landingsOf(await readHistory()).filter((g) => g.env === from.name);
        const landings = items.map((i) => groupsInFrom.find((g) => g.app === i.app && g.tag === i.tag)?.date).filter((d): d is string => d !== undefined);
        if (landings.length === items.length) landedAt = new Date(Math.max(...landings.map((d) => Date.parse(d))));
        for (const i of items) health.push(await deps.health.status(from.name, i.app, i.tag));
      }
      const at = now();
      const decision = evaluateGates(env.gates ?? {}, { landedAt, health: worstHealth(health.length ? health : ['unknown']) }, at);
      if (decision.passed) {
        const queued = await store.transact(id, (cur) => (cur.state === 'waiting' ? { state: 'queued', gates: decision.results } : {}));
        if (queued.state === 'queued') {
          logger.info({ promotionId: id, env: env.name }, 'gates passed');
          await enqueuePromote(queued);
        }
        return;
      }
      for (const r of decision.results) if (r.status === 'waiting') deps.onGateWait?.(env.name, r.gate);
      // Only the gates' status changes here; a plain update needs no transaction (and no connection of its own).
      await store.update(id, { gates: decision.results });
      const untilChange = decision.recheckAt ? decision.recheckAt.getTime() - at.getTime() : Number.POSITIVE_INFINITY;
      await enqueueGateCheck(id, Math.min(Math.max(untilChange, 0), deps.gateIntervalMs));
    },

    async afterCommit(p) {
      // A gated environment with no gates configured does not move by itself: nothing was asked to pass.
      for (const next of deps.environments.filter((e) => e.from === p.env && e.promotion === 'gated' && hasGates(e))) {
        for (const item of itemsOf(p)) {
          const id = `g-${createHash('sha256').update(`${p.id}\n${next.name}\n${item.app}`).digest('hex').slice(0, 24)}`;
          const gated = newPromotion(id, next, [item], { kind: 'gated', url: p.source.url }, 'waiting');
          const { created, promotion } = await store.ensure(gated);
          if (!created) continue;
          await supersedeOlder(next, promotion);
          await advance(promotion);
          logger.info({ promotionId: id, env: next.name, app: item.app, tag: item.tag, after: p.id }, 'gated promotion started');
        }
      }
    },

    async deploymentReported(envName, app) {
      for (const next of deps.environments.filter((e) => e.from === envName)) {
        for (const p of await store.pending(next.name)) {
          if (p.state === 'waiting' && itemsOf(p).some((i) => i.app === app)) await enqueueGateCheck(p.id);
        }
      }
    },
  };
}

export type PromotionServiceImpl = ReturnType<typeof createPromotionService>;
