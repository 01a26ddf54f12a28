/**
 * Reading the GitOps history, pure: what Hoist landed (its own signed commits) and what others changed (outside
 * commits, which never grant anything). The chain check, rollback targets and the history view all ask here.
 */
import type { HistoryCommit, ImageState, LandedGroup } from './ports.js';
import type { App, Environment } from './types.js';

export interface Landing extends LandedGroup {
  commit: string;
  date: string;
  repo?: string | undefined;
}

/** One outside commit's change to one environment: an app's image entry, or other files (`image` absent). */
export interface OutsideChange {
  commit: string;
  repo?: string | undefined;
  date: string;
  author: string;
  subject: string;
  env: string;
  paths: string[];
  image?: string | undefined;
  before?: ImageState | undefined;
  after?: ImageState | undefined;
}

/** The environment whose overlay holds `file` (in `repo`, when environments live in several repositories). */
export function environmentOfPath(environments: readonly Environment[], file: string, repo?: string, apps: readonly App[] = []): Environment | undefined {
  const lives = (e: Environment) => repo === undefined || e.target.repo === repo || apps.some((a) => a.targets?.[e.name]?.repo === repo);
  return environments.find((e) => (file === e.path || file.startsWith(`${e.path}/`)) && lives(e));
}

/** Hoist's landings, newest first. */
export function landingsOf(commits: readonly HistoryCommit[]): Landing[] {
  return commits.filter((c) => c.trusted).flatMap((c) => c.groups.map((g) => ({ ...g, commit: c.commit, date: c.date, ...(c.repo ? { repo: c.repo } : {}) })));
}

/** Outside changes, newest first: per commit and environment, one per image entry it changed, one for other files. */
export function outsideChangesOf(commits: readonly HistoryCommit[], environments: readonly Environment[], apps: readonly App[] = []): OutsideChange[] {
  return commits
    .filter((c) => !c.trusted)
    .flatMap((c) => {
      const byEnv = new Map<string, OutsideChange[]>();
      for (const change of c.changes) {
        const env = environmentOfPath(environments, change.path, c.repo, apps);
        if (!env) continue;
        const base = { commit: c.commit, ...(c.repo ? { repo: c.repo } : {}), date: c.date, author: c.author, subject: c.subject, env: env.name, paths: [change.path] };
        const list = byEnv.get(env.name) ?? [];
        for (const image of change.images) list.push({ ...base, image: image.name, before: image.before, after: image.after });
        if (change.other) list.push(base);
        byEnv.set(env.name, list);
      }
      // Other files of one environment in one commit are one change, with every path.
      return [...byEnv.values()].flatMap((list) => {
        const images = list.filter((l) => l.image !== undefined);
        const others = list.filter((l) => l.image === undefined);
        const merged = others.length > 0 ? [{ ...(others[0] as OutsideChange), paths: [...new Set(others.flatMap((o) => o.paths))] }] : [];
        return [...images, ...merged];
      });
    });
}

/** The oldest of Hoist's commits that the history reaches: the environment's state before it is where Hoist started. */
export function firstTrusted(commits: readonly HistoryCommit[]): string | undefined {
  for (let i = commits.length - 1; i >= 0; i--) if (commits[i]?.trusted) return commits[i]?.commit;
  return undefined;
}

export interface TagFacts {
  commits: readonly HistoryCommit[];
  env: Environment;
  app: App;
  /** What the environment runs now. */
  current: string | undefined;
  /** What it ran before Hoist's first commit (undefined when unknown or Hoist has written nothing yet). */
  seed: string | undefined;
}

/**
 * Has `tag` been in the environment, as far as trusted facts go? Hoist landed it there, or it ran there before
 * Hoist's first commit. A tag it runs now counts only when Hoist has written nothing yet (then everything there is
 * is from before Hoist): otherwise a current tag that Hoist never landed and that was not there before Hoist
 * began came from a commit Hoist did not sign, and outside changes never grant anything.
 */
export function hasBeenIn(tag: string, facts: TagFacts): boolean {
  const { commits, env, app } = facts;
  if (landingsOf(commits).some((l) => l.env === env.name && l.app === app.name && l.tag === tag)) return true;
  if (facts.seed !== undefined && facts.seed === tag) return true;
  return tag === facts.current && firstTrusted(commits) === undefined;
}
