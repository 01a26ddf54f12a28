import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { demoConfigText } from '../../src/config/runtime.js';
import { HoistError } from '../../src/errors.js';

const VALID = `gitops: { url: "file:///tmp/gitops.git", branch: main, author: { name: Hoist, email: hoist@example.invalid } }
gitlab: { webhookSecret: \${GITLAB_WEBHOOK_SECRET} }
api: { token: \${HOIST_API_TOKEN} }
environments:
  - { name: dev, path: overlays/dev, promotion: auto }
  - { name: staging, path: overlays/staging, from: dev, promotion: gated }
  - { name: prod, path: overlays/prod, from: staging, promotion: manual }
apps:
  - name: web
    project: group/web
    image: registry.example.com/group/web
    tag: \${CI_COMMIT_SHORT_SHA}-\${CI_PIPELINE_ID}
    branches: [main]
`;
const ENV = { GITLAB_WEBHOOK_SECRET: 's3cret', HOIST_API_TOKEN: 'tok' };

function problemsOf(text: string, env: Record<string, string> = ENV): string {
  try {
    parseConfig(text, 'hoist.yaml', env);
  } catch (error) {
    expect(error).toBeInstanceOf(HoistError);
    expect((error as HoistError).code).toBe('config_invalid');
    return (error as HoistError).message;
  }
  throw new Error('expected the config to be rejected');
}

describe('config', () => {
  it('fills ${VAR} from the environment but leaves tag templates for the pipeline', () => {
    const config = parseConfig(VALID, 'hoist.yaml', ENV);
    expect(config.gitlab.webhookSecret).toBe('s3cret');
    expect(config.api.token).toBe('tok');
    expect(config.apps[0]!.tag).toBe('${CI_COMMIT_SHORT_SHA}-${CI_PIPELINE_ID}');
    expect(config.apps[0]!.mergeRequestPipelines).toBe(false);
  });

  it('lets chat replies go only to hooks.slack.com for Slack and nowhere for Mattermost unless hosts are named', () => {
    const chat = `${VALID}chatops:\n  slack: { signingSecret: s }\n  mattermost: { token: t }\n`;
    expect(parseConfig(chat, 'hoist.yaml', ENV).chatops).toMatchObject({ slack: { responseHosts: ['hooks.slack.com'] }, mattermost: { responseHosts: [] } });
    const named = chat.replace('token: t }', 'token: t, responseHosts: [chat.example.com, "10.0.0.5:8065"] }');
    expect(parseConfig(named, 'hoist.yaml', ENV).chatops?.mattermost?.responseHosts).toEqual(['chat.example.com', '10.0.0.5:8065']);
    expect(problemsOf(chat.replace('signingSecret: s }', 'signingSecret: s, responseHosts: ["https://hooks.slack.com/"] }'))).toMatch(
      /chatops\.slack\.responseHosts\[0\]: must be a host name, optionally with :port, such as hooks\.slack\.com/,
    );
  });

  it('names an unset variable with its key path and line', () => {
    expect(problemsOf(VALID, { GITLAB_WEBHOOK_SECRET: 'x' })).toBe(
      'invalid config:\nhoist.yaml:3:15: api.token: environment variable HOIST_API_TOKEN is not set',
    );
  });

  it('reports schema errors with key path and line, all of them at once', () => {
    const text = VALID.replace('promotion: gated', 'promotion: sometimes').replace('project: group/web', 'project: web');
    const message = problemsOf(text);
    expect(message).toContain('hoist.yaml:6:');
    expect(message).toMatch(/environments\[1\]\.promotion: .*auto.*gated.*manual/);
    expect(message).toMatch(/hoist\.yaml:10:\d+: apps\[0\]\.project: must be a GitLab path_with_namespace/);
  });

  it('rejects unknown keys, unknown `from`, duplicates and cycles', () => {
    expect(problemsOf(VALID.replace('gitlab:', 'gitlab_typo: {}\ngitlab:'))).toMatch(/hoist\.yaml:2:1: \(top level\): unknown key "gitlab_typo"/);
    expect(problemsOf(VALID.replace('from: dev', 'from: qa'))).toMatch(/environments\[1\]\.from: unknown environment "qa"/);
    expect(problemsOf(VALID.replace('name: prod', 'name: dev'))).toMatch(/duplicate environment "dev"/);
    expect(problemsOf(VALID.replace('- { name: dev, path: overlays/dev, promotion: auto }', '- { name: dev, path: overlays/dev, from: prod, promotion: auto }'))).toMatch(/cycle/);
    expect(problemsOf(VALID.replace('promotion: manual', 'promotion: manual }\n  - { name: qa, path: overlays/qa, promotion: gated'))).toMatch(/environments\[3\]\.from: a gated environment needs "from"/);
  });

  it('refuses names and paths that could escape', () => {
    expect(problemsOf(VALID.replace('path: overlays/prod', 'path: ../outside'))).toMatch(/environments\[2\]\.path: must be a path inside the GitOps repository/);
    expect(problemsOf(VALID.replace('- name: web', '- name: ../web'))).toMatch(/apps\[0\]\.name/);
    expect(problemsOf(VALID.replace('image: registry.example.com/group/web', 'image: "registry.example.com/group/web:latest"'))).toMatch(/apps\[0\]\.image: must be an image name without tag/);
  });

  it('reports YAML syntax errors with their line', () => {
    expect(problemsOf('gitops: {\n  url: [\n')).toMatch(/^invalid config:\nhoist\.yaml:\d+:\d+: \(yaml\): /);
  });

  it('accepts registry hosts with ports and `$${` as a literal', () => {
    const config = parseConfig(
      VALID.replace('registry.example.com/group/web', 'registry.example.com:5000/group/web').replace('email: hoist@example.invalid', () => 'email: "a$${b}@example.invalid"'),
      'hoist.yaml',
      ENV,
    );
    expect(config.apps[0]!.image).toBe('registry.example.com:5000/group/web');
    expect(config.gitops.author.email).toBe('a${b}@example.invalid');
  });

  it('checks the Argo CD and GitLab settings together', () => {
    const withGitlab = VALID.replace('gitlab: { webhookSecret: ${GITLAB_WEBHOOK_SECRET} }', 'gitlab: { webhookSecret: x, url: "https://gitlab.example.com", token: glpat }');
    const config = parseConfig(withGitlab.replace('promotion: manual }', 'promotion: manual, write: merge-request }').replace('branch: main,', 'branch: main, project: group/gitops,'), 'hoist.yaml', ENV);
    expect(config.environments.map((e) => [e.write, e.autoRollback])).toEqual([['push', false], ['push', false], ['merge-request', false]]);
    expect(problemsOf(VALID.replace('promotion: manual }', 'promotion: manual, write: api }'))).toMatch(/environments\[2\]\.write: write: api needs gitlab\.url and gitlab\.token[\s\S]*needs gitops\.project/);
    expect(problemsOf(VALID.replace('gitlab: { webhookSecret: ${GITLAB_WEBHOOK_SECRET} }', 'gitlab: { url: "https://gitlab.example.com" }'))).toMatch(
      /gitlab\.webhookSecret: set webhookSecret \(X-Gitlab-Token\) or signingToken[\s\S]*gitlab\.token: gitlab\.url and gitlab\.token go together/,
    );
    expect(problemsOf(VALID.replace('webhookSecret: ${GITLAB_WEBHOOK_SECRET}', 'signingToken: "not-a-whsec"'))).toMatch(/gitlab\.signingToken: must be the "whsec_…" signing token/);
    const argo = `${VALID}argocd: { url: "https://argocd.example.com", token: t, applications: "{{project}}-{{env}}" }\n`;
    expect(problemsOf(argo)).toMatch(/argocd\.applications: .*project/);
    const good = parseConfig(argo.replace('{{project}}-{{env}}', 'hoist-{{env}}'), 'hoist.yaml', ENV);
    expect(good.argocd).toMatchObject({ applications: 'hoist-{{env}}', watchTimeout: 900_000 });
  });

  it('ships a demo config that validates on its own', () => {
    const config = parseConfig(demoConfigText('/tmp/hoist-data'), 'demo', {});
    expect(config.gitops.url).toBe('file:///tmp/hoist-data/demo/gitops.git');
    expect(config.environments.map((e) => [e.name, e.promotion])).toEqual([['dev', 'auto'], ['staging', 'gated'], ['prod', 'manual']]);
  });
});
