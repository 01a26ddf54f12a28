import type { RepoReader } from '../domain/ports.js';
import type { App, Environment } from '../domain/types.js';

export interface EnvironmentView {
  name: string;
  path: string;
  /** The GitOps repository (its name in gitops.repos; `default` for gitops.url) and branch of its overlay. */
  repo: string;
  branch: string;
  promotion: Environment['promotion'];
  from: string | null;
  error?: string;
  /** `repo`: where this app's entry lives, when not the environment's own repository. */
  apps: Array<{ app: string; image: string; tag: string | null; digest: string | null; newName?: string; repo?: string }>;
}

/** Each environment with each app's image as the GitOps branch head has it. */
export async function listEnvironments(reader: RepoReader, environments: readonly Environment[], apps: readonly App[]): Promise<{ commit: string; environments: EnvironmentView[] }> {
  const snapshot = await reader.snapshot(environments.map((e) => e.name));
  return {
    commit: snapshot.commit,
    environments: environments.map((env): EnvironmentView => {
      const base = { name: env.name, path: env.path, repo: env.target.repo, branch: env.target.branch, promotion: env.promotion, from: env.from ?? null };
      const state = snapshot.environments[env.name];
      if (!state || 'error' in state) return { ...base, error: state?.error ?? 'not read', apps: [] };
      return {
        ...base,
        apps: apps.map((app) => {
          const image = state.images.find((i) => i.name === app.image);
          return {
            app: app.name,
            image: app.image,
            tag: image?.tag ?? null,
            ...(app.targets?.[env.name] ? { repo: app.targets[env.name]?.repo } : {}),
            digest: image?.digest ?? null,
            ...(image?.newName ? { newName: image.newName } : {}),
          };
        }),
      };
    }),
  };
}
