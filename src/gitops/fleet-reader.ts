import type { EnvironmentSnapshot, HistoryCommit, ImageState, ReadOptions, RepoReader } from '../domain/ports.js';
import { targetKey, targetOf, type App, type Environment, type Target } from '../domain/types.js';
import type { TargetReader } from './reader.js';

/**
 * The domain's reader over every GitOps repository and branch: an environment's overlay is read where it lives, and
 * an app that lives elsewhere in that environment (`apps[].repos`) has its entry read from there. With one repository
 * this is that repository's reader and nothing more.
 */
export function createFleetReader(options: {
  environments: readonly Environment[];
  apps: readonly App[];
  readerOf: (target: Target) => TargetReader;
}): RepoReader {
  const envNamed = (name: string) => options.environments.find((e) => e.name === name);
  /** Every place an environment's entries live: its own target, then each app override's. */
  const placesOf = (env: Environment): Target[] => {
    const places = new Map<string, Target>([[targetKey(env.target), env.target]]);
    for (const app of options.apps) {
      const target = targetOf(env, app);
      places.set(targetKey(target), target);
    }
    return [...places.values()];
  };
  const byTarget = (envs: readonly Environment[]) => {
    const out = new Map<string, { target: Target; envs: Environment[] }>();
    for (const env of envs) {
      for (const target of placesOf(env)) {
        const entry = out.get(targetKey(target)) ?? { target, envs: [] };
        entry.envs.push(env);
        out.set(targetKey(target), entry);
      }
    }
    return out;
  };
  return {
    async snapshot(names, readOptions?: ReadOptions) {
      const envs = names.flatMap((n) => envNamed(n) ?? []);
      const groups = [...byTarget(envs).values()];
      const reads = await Promise.all(groups.map(async (g) => ({ g, snap: await options.readerOf(g.target).snapshot(Object.fromEntries(g.envs.map((e) => [e.name, e.path])), readOptions) })));
      const heads: Record<string, string> = {};
      for (const { g, snap } of reads) heads[targetKey(g.target)] = snap.commit;
      const environments: EnvironmentSnapshot['environments'] = {};
      for (const env of envs) {
        const own = reads.find((r) => targetKey(r.g.target) === targetKey(env.target))?.snap.environments[env.name];
        if (!own || 'error' in own) {
          environments[env.name] = own ?? { error: `no kustomization.yaml in ${env.path}` };
          continue;
        }
        // An app that lives elsewhere in this environment: its entry comes from there, never from here.
        let images = own.images;
        for (const app of options.apps) {
          const target = targetOf(env, app);
          if (targetKey(target) === targetKey(env.target)) continue;
          const there = reads.find((r) => targetKey(r.g.target) === targetKey(target))?.snap.environments[env.name];
          images = [...images.filter((i) => i.name !== app.image), ...(there && 'images' in there ? there.images.filter((i) => i.name === app.image) : [])];
        }
        environments[env.name] = { images };
      }
      const first = reads[0]?.snap.commit ?? '';
      return { commit: first, heads, environments };
    },
    async history(names, limit, readOptions?: ReadOptions) {
      const envs = names.flatMap((n) => envNamed(n) ?? []);
      const groups = [...byTarget(envs).values()];
      const lists = await Promise.all(
        groups.map(async (g) => (await options.readerOf(g.target).history([...new Set(g.envs.map((e) => e.path))], limit, readOptions)).map((c): HistoryCommit => ({ ...c, repo: g.target.repo }))),
      );
      if (lists.length === 1) return lists[0] as HistoryCommit[];
      // Newest first across repositories (each list is already newest first).
      return lists.flat().sort((a, b) => b.date.localeCompare(a.date)).slice(0, limit);
    },
    async imagesAt(rev, envName, appName): Promise<ImageState[] | undefined> {
      const env = envNamed(envName);
      if (!env) return undefined;
      const app = appName === undefined ? undefined : options.apps.find((a) => a.name === appName);
      return options.readerOf(app ? targetOf(env, app) : env.target).imagesAt(rev, env.path);
    },
  };
}
