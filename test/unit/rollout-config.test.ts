import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { HoistError } from '../../src/errors.js';

const config = (dev: string, argocd = 'argocd: { url: "https://argocd.example.com", token: t }\n') => `gitops: { url: "file:///tmp/gitops.git", branch: main }
gitlab: { webhookSecret: s }
api: { token: t }
${argocd}environments:
  - { name: dev, path: overlays/dev, promotion: auto${dev} }
apps:
  - { name: web, project: group/web, image: registry.example.com/group/web }
`;

function problemsOf(text: string): string {
  try {
    parseConfig(text, 'hoist.yaml', {});
  } catch (error) {
    expect(error).toBeInstanceOf(HoistError);
    expect((error as HoistError).code).toBe('config_invalid');
    return (error as HoistError).message;
  }
  throw new Error('expected the config to be rejected');
}

describe('watch and rollout.autoPromote in the config', () => {
  it('watches 10 minutes after healthy by default, and takes another duration or none', () => {
    expect(parseConfig(config(''), 'hoist.yaml', {}).environments[0]).toMatchObject({ watch: 600_000 });
    expect(parseConfig(config(', watch: 15m'), 'hoist.yaml', {}).environments[0]).toMatchObject({ watch: 900_000 });
    expect(parseConfig(config(', watch: 0s'), 'hoist.yaml', {}).environments[0]).toMatchObject({ watch: 0 });
  });

  it('reads autoPromote with healthy on by default', () => {
    const env = parseConfig(config(', rollout: { autoPromote: { after: 10m } }'), 'hoist.yaml', {}).environments[0];
    expect(env?.rollout).toEqual({ autoPromote: { after: 600_000, healthy: true } });
  });

  it('refuses what it cannot use, naming the key', () => {
    expect(problemsOf(config(', watch: soon'))).toMatch(/environments\[0\]\.watch: "soon" is not a duration such as 30s, 10m or 2h/);
    expect(problemsOf(config(', rollout: { autoPromote: { after: 10m, heathy: true } }'))).toMatch(/environments\[0\]\.rollout\.autoPromote/);
    expect(problemsOf(config(', rollout: { autoPromote: {} }'))).toMatch(/environments\[0\]\.rollout\.autoPromote\.after/);
    expect(problemsOf(config(', rollout: { autoPromote: { after: 10m } }', ''))).toMatch(/environments\[0\]\.rollout\.autoPromote: needs argocd/);
  });
});
