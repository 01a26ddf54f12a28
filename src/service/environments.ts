import type { RepoReader } from '../domain/ports.js';
import type { App, Environment } from '../domain/types.js';

export interface EnvironmentView {
  name: string;
  path: string;
  promotion: Environment['promotion'];
  from: string | null;
  error?: string;
  apps: Array<{ app: string; image: string; tag: string | null; digest: string | null; newName?: string }>;
}

/** Each environment with each app's image as the GitOps branch head has it. */
export async function listEnvironments(reader: RepoReader, environments: readonly Environment[], apps: readonly App[]): Promise<{ commit: string; environments: EnvironmentView[] }> {
  const snapshot = await reader.snapshot(Object.fromEntries(environments.map((e) => [e.name, e.path])));
  return {
    commit: snapshot.commit,
    environments: environments.map((env): EnvironmentView => {
      const base = { name: env.name, path: env.path, promotion: env.promotion, from: env.from ?? null };
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
            digest: image?.digest ?? null,
            ...(image?.newName ? { newName: image.newName } : {}),
          };
        }),
      };
    }),
  };
}
