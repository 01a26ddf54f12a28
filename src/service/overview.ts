import { landingsOf, outsideChangesOf } from '../domain/history.js';
import type { RepoReader } from '../domain/ports.js';
import type { RolloutView } from '../domain/rollout.js';
import type { App, Environment } from '../domain/types.js';
import type { DeploymentReports } from '../store/deployment-reports.js';
import type { PromotionService, PromotionView } from './promotion-service.js';

/** One app in one environment, as the board's cell and `hoist status` show it. */
export interface CellView {
  env: string;
  app: string;
  tag: string | null;
  digest: string | null;
  /** When the running tag arrived there, and who or what put it there (absent: before Hoist's history). */
  since?: string;
  by?: string;
  kind?: 'pipeline' | 'manual' | 'gated' | 'rollback' | 'outside';
  promotion?: string;
  /** The last deploy verdict about this tag (Argo CD or a deploy report): `deployed` is Synced and Healthy. */
  health?: { status: 'deployed' | 'degraded'; at: string };
  /** The `from` environment runs another tag: there is something to promote. */
  fromTag?: string | null;
  differs: boolean;
  /** The Argo Rollouts Rollout running this tag, as Hoist last read it (rollout-watch.ts adds it). */
  rollout?: RolloutView;
}

export interface Overview {
  commit: string;
  environments: Array<{ name: string; from: string | null; promotion: Environment['promotion']; path: string; error?: string }>;
  apps: Array<{ name: string; image: string }>;
  /** Environment by environment, app by app, in config order. */
  cells: CellView[];
  pending: PromotionView[];
}

export interface OverviewDeps {
  environments: readonly Environment[];
  apps: readonly App[];
  reader: RepoReader;
  reports: Pick<DeploymentReports, 'latest'>;
  service: Pick<PromotionService, 'listPending'>;
}

/** How many commits the overview reads back for "since when" and "by whom". */
const OVERVIEW_HISTORY = 500;

/**
 * Every app in every environment: what runs, since when, who put it there, what Argo CD said about it, and what is
 * waiting. One snapshot, one history read and one Redis round trip for all of it.
 */
/** The first item of each key, as find() would take it. */
function firstBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T> {
  const index = new Map<string, T>();
  for (const item of items) if (!index.has(key(item))) index.set(key(item), item);
  return index;
}

export function createOverview(deps: OverviewDeps) {
  /**
   * What the history says, for the branch heads it was read at: the same heads have the same history, so a board
   * loaded again and again reads it (a git log of 500 commits, then their landings) only when a head moved.
   */
  let known: { heads: string; order: Map<string, number>; landingAt: Map<string, ReturnType<typeof landingsOf>[number]>; changeAt: Map<string, ReturnType<typeof outsideChangesOf>[number]> } | undefined;
  const historyAt = async (heads: string, maxAgeMs: number) => {
    if (known?.heads === heads) return known;
    const commits = await deps.reader.history(deps.environments.map((e) => e.name), OVERVIEW_HISTORY, { maxAgeMs });
    // Indexed once: 200 apps × 4 environments looked up item by item was most of the board's first-HTML time.
    const found = {
      heads,
      order: new Map(commits.map((c, i) => [c.commit, i])),
      landingAt: firstBy(landingsOf(commits), (l) => `${l.env}\0${l.app}\0${l.tag}`),
      changeAt: firstBy(outsideChangesOf(commits, deps.environments, deps.apps), (o) => `${o.env}\0${o.image}\0${o.after?.tag ?? null}`),
    };
    known = found;
    return found;
  };
  return {
    /** `fresh`: read the branch as it is now; otherwise a head fetched within the last second will do. */
    async read(options: { fresh?: boolean; app?: string } = {}): Promise<Overview> {
      const maxAgeMs = options.fresh ? 0 : 1_000;
      const apps = deps.apps.filter((a) => options.app === undefined || a.name === options.app);
      // The snapshot first: its heads say whether the history already read still holds (the reader reads one at a time anyway).
      const [{ snapshot, history }, pending] = await Promise.all([
        deps.reader.snapshot(deps.environments.map((e) => e.name), { maxAgeMs }).then(async (snapshot) => ({ snapshot, history: await historyAt(JSON.stringify(snapshot.heads ?? { commit: snapshot.commit }), maxAgeMs) })),
        deps.service.listPending(),
      ]);
      const { order, landingAt, changeAt } = history;
      const reports = await deps.reports.latest(deps.environments.flatMap((e) => apps.map((a) => [e.name, a.name] as const)));
      const images = new Map(Object.entries(snapshot.environments).map(([env, state]) => [env, firstBy(state && 'images' in state ? state.images : [], (i) => i.name)]));
      const imageOf = (env: string, app: App) => images.get(env)?.get(app.image);
      const cells = deps.environments.flatMap((env) =>
        apps.map((app): CellView => {
          const image = imageOf(env.name, app);
          const tag = image?.tag ?? null;
          const landing = landingAt.get(`${env.name}\0${app.name}\0${tag}`);
          const change = changeAt.get(`${env.name}\0${app.image}\0${tag}`);
          // Whichever is newer put the running tag there: Hoist's landing or someone else's commit.
          const fromOutside = change !== undefined && (landing === undefined || (order.get(change.commit) ?? 0) < (order.get(landing.commit) ?? 0));
          const report = reports.get(`${env.name}\0${app.name}`);
          const fromTag = env.from ? (imageOf(env.from, app)?.tag ?? null) : undefined;
          return {
            env: env.name,
            app: app.name,
            tag,
            // What the overlay pins, else what the promotion that landed the running tag resolved (its Hoist-Digest).
            digest: image?.digest ?? (!fromOutside && landing?.digest ? landing.digest : null),
            ...(fromOutside && change ? { since: change.date, by: change.author, kind: 'outside' as const } : {}),
            ...(!fromOutside && landing
              ? {
                  since: landing.date,
                  by: landing.requestedBy ? landing.requestedBy.replace(/ \([^)]*\)$/, '') : landing.kind === 'pipeline' ? 'pipeline' : landing.kind,
                  kind: (['pipeline', 'manual', 'gated', 'rollback'].includes(landing.kind) ? landing.kind : 'pipeline') as CellView['kind'],
                  promotion: landing.promotion,
                }
              : {}),
            ...(report && report.tag === tag ? { health: { status: report.status, at: report.at } } : {}),
            ...(fromTag !== undefined ? { fromTag } : {}),
            differs: fromTag !== undefined && fromTag !== null && fromTag !== tag,
          };
        }),
      );
      return {
        commit: snapshot.commit,
        environments: deps.environments.map((e) => {
          const state = snapshot.environments[e.name];
          return { name: e.name, from: e.from ?? null, promotion: e.promotion, path: e.path, ...(state && 'error' in state ? { error: state.error } : {}) };
        }),
        apps: apps.map((a) => ({ name: a.name, image: a.image })),
        cells,
        pending: options.app === undefined ? pending : pending.filter((p) => p.apps.some((a) => a.app === options.app)),
      };
    },
  };
}

export type OverviewService = ReturnType<typeof createOverview>;
