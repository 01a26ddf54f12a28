import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { HoistError } from '../../src/errors.js';

const BASE = `gitops: { url: "file:///tmp/gitops.git", branch: main }
gitlab: { webhookSecret: s }
api: { token: t }
environments:
  - { name: dev, path: overlays/dev, promotion: auto }
  - { name: prod, path: overlays/prod, from: dev, promotion: manual, pin: digest }
  - { name: qa, path: overlays/qa, promotion: auto, verifyTag: true }
apps:
  - { name: web, project: group/web, image: registry.example.com/group/web }
`;

function problemsOf(text: string, env: Record<string, string> = {}): string {
  try {
    parseConfig(text, 'hoist.yaml', env);
  } catch (error) {
    expect(error).toBeInstanceOf(HoistError);
    return (error as HoistError).message;
  }
  throw new Error('expected the config to be rejected');
}

describe('digest pinning config', () => {
  it('pins tags by default, digests where pin: digest says so, and verifies tags only where asked', () => {
    const config = parseConfig(BASE, 'hoist.yaml', {});
    expect(config.environments.map((e) => [e.name, e.pin, e.verifyTag])).toEqual([
      ['dev', 'tag', false],
      ['prod', 'digest', false],
      ['qa', 'tag', true],
    ]);
    expect(config.registries).toBeUndefined();
  });

  it('fills registry credentials from ${VAR} like the rest of the config, per host (a port included)', () => {
    const text = `${BASE}registries:\n  "registry.example.com": { username: hoist, password: \${REGISTRY_PASSWORD} }\n  "localhost:5000": { insecure: true }\n  docker.io: { username: me, password: \${HUB_TOKEN} }\n`;
    const config = parseConfig(text, 'hoist.yaml', { REGISTRY_PASSWORD: 'pw-1', HUB_TOKEN: 'dckr_pat_x' });
    expect(config.registries).toEqual({
      'registry.example.com': { username: 'hoist', password: 'pw-1', insecure: false },
      'localhost:5000': { insecure: true },
      'docker.io': { username: 'me', password: 'dckr_pat_x', insecure: false },
    });
    expect(problemsOf(text, { HUB_TOKEN: 'x' })).toMatch(/registries\.registry\.example\.com\.password: environment variable REGISTRY_PASSWORD is not set/);
  });

  it('refuses a bad pin, a host that is a URL, half a credential and unknown keys, saying where', () => {
    expect(problemsOf(BASE.replace('pin: digest', 'pin: sha'))).toMatch(/environments\[1\]\.pin: .*"tag" or "digest"/);
    expect(problemsOf(`${BASE}registries:\n  "https://registry.example.com": { username: a, password: b }\n`)).toMatch(/registries.*must be a registry host, optionally with :port/);
    expect(problemsOf(`${BASE}registries:\n  registry.example.com: { username: a }\n`)).toMatch(/registries\.registry\.example\.com\.password: username and password go together/);
    expect(problemsOf(`${BASE}registries:\n  registry.example.com: { user: a, password: b }\n`)).toMatch(/registries\.registry\.example\.com: unknown key "user"/);
  });
});
