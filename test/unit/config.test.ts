import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { demoConfigText, readRuntimeEnv } from '../../src/config/runtime.js';
import { mayApprove } from '../../src/domain/access.js';
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
  it('checks environments, apps and repositories against each other whatever optional sections are set', () => {
    // Each of these once made the cross-field checks skip silently (their input schema wanted keys these leave out).
    const sections = [
      'auth: { demo: true, publicUrl: "http://127.0.0.1:8080" }',
      'auth: { oidc: { issuer: "https://gitlab.example.com", clientId: hoist, clientSecret: s }, sessionSecret: 0123456789abcdef0123, publicUrl: "https://hoist.example.com" }',
    ];
    for (const section of sections) {
      const text = `${VALID}${section}\n`;
      expect(() => parseConfig(text, 'hoist.yaml', ENV)).not.toThrow();
      expect(problemsOf(text.replace('name: prod', 'name: dev'))).toMatch(/duplicate environment "dev"/);
      expect(problemsOf(text.replace('from: staging', 'from: stagign'))).toMatch(/unknown environment "stagign"/);
    }
  });

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

  it('reports YAML, ${VAR} and schema problems in one run, and not what an unset value would have failed', () => {
    const text = `${VALID.replace('promotion: gated', 'promotion: sometimes').replace('project: group/web', 'project: web')}queue: { lockTimeout: \${HOIST_UNSET_TIMEOUT} }\nlog: { level: info }\nlog: { level: debug }\n`;
    expect(problemsOf(text, { GITLAB_WEBHOOK_SECRET: 'x' }).split('\n')).toEqual([
      'invalid config:',
      'hoist.yaml:3:15: api.token: environment variable HOIST_API_TOKEN is not set',
      'hoist.yaml:6:68: environments[1].promotion: must be one of "auto", "gated" or "manual", not the string "sometimes"',
      'hoist.yaml:10:14: apps[0].project: must be a GitLab path_with_namespace such as group/web',
      'hoist.yaml:14:23: queue.lockTimeout: environment variable HOIST_UNSET_TIMEOUT is not set',
      'hoist.yaml:16:1: (yaml): Map keys must be unique',
    ]);
  });

  it('says "missing" for a missing required key, where its mapping is named', () => {
    const text = VALID.replace('api: { token: ${HOIST_API_TOKEN} }', 'api: {}').replace('{ name: dev, path: overlays/dev, promotion: auto }', '{ name: dev }');
    expect(problemsOf(text).split('\n')).toEqual([
      'invalid config:',
      'hoist.yaml:3:1: api.token: missing',
      'hoist.yaml:5:5: environments[0].path: missing',
      'hoist.yaml:5:5: environments[0].promotion: missing (one of "auto", "gated" or "manual")',
    ]);
    expect(problemsOf(VALID.replace(/^api: .*\n/m, ''))).toBe('invalid config:\nhoist.yaml:1:1: api: missing');
    expect(problemsOf(VALID.replace('project: group/web', 'project:'))).toMatch(/hoist\.yaml:10:13: apps\[0\]\.project: has no value \(expected a string\)$/m);
    expect(problemsOf(VALID.replace('promotion: auto', 'promotion: '))).toMatch(/environments\[0\]\.promotion: has no value \(one of "auto", "gated" or "manual"\)$/m);
    expect(problemsOf(VALID.replace('branches: [main]', 'branches: main'))).toMatch(/apps\[0\]\.branches: must be a list, not the string "main"$/m);
  });

  it('suggests the key or environment a typo meant', () => {
    const text = `${VALID.replace('branch: main', 'brnch: main').replace('from: dev', 'from: dve')}rbac: { promote: { prdo: [alice], "*": [bob] } }\nchatops: { slak: {} }\n`;
    expect(problemsOf(text).split('\n')).toEqual([
      'invalid config:',
      'hoist.yaml:1:42: gitops: unknown key "brnch" (did you mean "branch"?)',
      'hoist.yaml:6:52: environments[1].from: unknown environment "dve" (did you mean "dev"?)',
      'hoist.yaml:14:26: rbac.promote.prdo: unknown environment "prdo" (did you mean "prod"?)',
      'hoist.yaml:15:12: chatops: unknown key "slak" (did you mean "slack"?)',
    ]);
    expect(problemsOf(VALID.replace('promotion: manual', 'promotion: manul'))).toMatch(/environments\[2\]\.promotion: .* \(did you mean "manual"\?\)$/m);
    // Nothing close: the keys that would do are listed instead.
    expect(problemsOf(VALID.replace('api:', 'zzz: 1\napi:'))).toMatch(/\(top level\): unknown key "zzz" \(known keys: gitops, gitlab, .*, apps, .*\)$/m);
  });

  it('checks environment names across the file even when another field is invalid', () => {
    const message = problemsOf(VALID.replace('promotion: gated', 'promotion: sometimes').replace('from: staging', 'from: qa'));
    expect(message).toMatch(/environments\[1\]\.promotion: must be one of/);
    expect(message).toMatch(/environments\[2\]\.from: unknown environment "qa"$/m);
    // An invalid policy is reported once, not again as "a sometimes environment needs from".
    expect(problemsOf(VALID.replace('from: dev, promotion: gated', 'promotion: sometimes')).split('\n')).toHaveLength(2);
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

  it('checks how environments show in GitLab and the DORA failure window', () => {
    const gitlab = (environments: string) => VALID.replace('gitlab: { webhookSecret: ${GITLAB_WEBHOOK_SECRET} }', `gitlab: { webhookSecret: x, environments: ${environments} }`);
    const config = parseConfig(`${gitlab('{ prod: { name: production, tier: production, externalUrl: "https://shop.example.com" } }')}dora: { failureWindow: 2h }\n`, 'hoist.yaml', ENV);
    expect(config.gitlab.environments).toEqual({ prod: { name: 'production', tier: 'production', externalUrl: 'https://shop.example.com' } });
    expect(config.dora).toEqual({ failureWindow: 7_200_000 });
    expect(parseConfig(`${VALID}dora: {}\n`, 'hoist.yaml', ENV).dora).toEqual({ failureWindow: 3_600_000 });
    expect(problemsOf(gitlab('{ prd: { tier: production } }'))).toMatch(/gitlab\.environments\.prd: unknown environment "prd" \(did you mean "prod"\?\)/);
    expect(problemsOf(gitlab('{ prod: { tier: live } }'))).toMatch(/gitlab\.environments\.prod\.tier: /);
    expect(problemsOf(gitlab('{ prod: { name: "/prod" } }'))).toMatch(/gitlab\.environments\.prod\.name: must be a GitLab environment name/);
    expect(problemsOf(gitlab('{ prod: { externalUrl: "javascript:alert(1)" } }'))).toMatch(/gitlab\.environments\.prod\.externalUrl: must be an http\(s\) URL/);
    expect(problemsOf(`${VALID}dora: { failureWindow: 10s }\n`)).toMatch(/dora\.failureWindow: must be at least 1m/);
  });

  it('ships a demo config that validates on its own', () => {
    const config = parseConfig(demoConfigText('/tmp/hoist-data'), 'demo', {});
    expect(config.gitops.url).toBe('file:///tmp/hoist-data/demo/gitops.git');
    expect(config.environments.map((e) => [e.name, e.promotion])).toEqual([['dev', 'auto'], ['staging', 'gated'], ['prod', 'manual']]);
    // The board signs people in by name, and only where the demo listens.
    expect(parseConfig(demoConfigText('/tmp/hoist-data', 9090), 'demo', {}).auth).toMatchObject({ demo: true, publicUrl: 'http://127.0.0.1:9090' });
  });

  it('makes the demo prod wait for two approvers other than the requester', () => {
    const prod = parseConfig(demoConfigText('/tmp/hoist-data'), 'demo', {}).environments.find((e) => e.name === 'prod');
    expect(prod?.approvals).toEqual({ required: 2, approvers: ['*'], allowSelfApproval: false });
    const policy = prod!.approvals!;
    const asked = { requestedBy: 'alice', approvedBy: [] as string[] };
    expect(mayApprove(policy, {}, asked, { name: 'alice' })).toMatchObject({ ok: false, reason: expect.stringMatching(/cannot approve it/) });
    expect(mayApprove(policy, {}, asked, { name: 'bob' })).toEqual({ ok: true });
    expect(mayApprove(policy, {}, { ...asked, approvedBy: ['bob'] }, { name: 'bob' })).toMatchObject({ ok: false });
    expect(mayApprove(policy, {}, { ...asked, approvedBy: ['bob'] }, { name: 'carol' })).toEqual({ ok: true });
  });
});

describe('REDIS_URL', () => {
  const redisUrlOf = (value: string | undefined) => readRuntimeEnv(value === undefined ? {} : { REDIS_URL: value }).redisUrl;
  const refusal = (value: string): string => {
    try {
      redisUrlOf(value);
    } catch (error) {
      expect((error as HoistError).code).toBe('config_invalid');
      return (error as Error).message;
    }
    throw new Error(`expected REDIS_URL=${JSON.stringify(value)} to be refused`);
  };

  it('defaults to the local Redis only when unset', () => {
    expect(redisUrlOf(undefined)).toBe('redis://127.0.0.1:6379');
    expect(redisUrlOf('rediss://:pw@redis.example.com:6380/2')).toBe('rediss://:pw@redis.example.com:6380/2');
  });

  it('refuses an empty value instead of quietly using the default', () => {
    expect(refusal('')).toMatch(/^REDIS_URL is set but empty/);
    expect(refusal('  ')).toMatch(/^REDIS_URL is set but empty/);
  });

  it('accepts one Redis, a Redis Cluster or a Sentinel set, and says what is wrong without echoing a password', () => {
    expect(redisUrlOf('redis+cluster://:pw@a:7000,b:7001')).toBe('redis+cluster://:pw@a:7000,b:7001');
    expect(redisUrlOf('redis+sentinel://s1:26379,s2:26379/hoist-master')).toBe('redis+sentinel://s1:26379,s2:26379/hoist-master');
    expect(refusal('127.0.0.1:6379')).toMatch(/^REDIS_URL must start with redis:\/\/ or rediss:\/\/ .*, e\.g\. redis:\/\/127\.0\.0\.1:6379$/);
    expect(refusal('https://:s3cret@redis.example.com')).toMatch(/^REDIS_URL must start with .*, not https:\/\/$/);
    expect(refusal('redis+sentinel://:s3cret@a:26379')).toMatch(/^REDIS_URL names no master/);
    expect(refusal('redis+cluster://a:x')).toMatch(/^REDIS_URL node 1 \(a\) has no valid port/);
    expect(refusal('redis://')).toMatch(/^REDIS_URL names no host/);
    for (const value of ['https://:s3cret@redis.example.com', 'redis+sentinel://:s3cret@a:26379']) expect(refusal(value)).not.toContain('s3cret');
  });
});
