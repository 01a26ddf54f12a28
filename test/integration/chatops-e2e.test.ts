import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { slackSignature } from '../../src/chatops/slack.js';
import { createSyntheticGitops, git, type TempGitops } from '../helpers/git-repos.js';
import { API_TOKEN, pipelineEvent, settled, startTestHoist, type TestHoist, waitFor, WEBHOOK_SECRET, webhookRequest } from '../helpers/hoist.js';

const SLACK_SECRET = 'e2e-slack-signing-secret';
const MM_TOKEN = 'e2e-mattermost-token';

/** The real service behind both chat endpoints: a version goes to prod through Slack and Mattermost. */
describe('chat commands against the real service', () => {
  let gitops: TempGitops;
  let hoist: TestHoist;
  let responseUrl: Server;
  const posted: Array<{ text: string; blocks?: Array<{ type: string; elements?: Array<{ action_id: string; value: string }> }> }> = [];

  beforeAll(async () => {
    gitops = await createSyntheticGitops(['web']);
    hoist = await startTestHoist(`gitops: { url: "${gitops.url}", branch: main }
gitlab: { webhookSecret: ${WEBHOOK_SECRET} }
api: { token: ${API_TOKEN} }
environments:
  - { name: dev, path: overlays/dev, promotion: auto }
  - name: prod
    path: overlays/prod
    from: dev
    promotion: manual
    approvals: { required: 2, approvers: [alice, bob, carol] }
rbac:
  promote: { prod: [alice], "*": ["*"] }
chatops:
  slack: { signingSecret: ${SLACK_SECRET}, responseHosts: ["127.0.0.1"] }   # the local server below plays hooks.slack.com
  mattermost: { token: ${MM_TOKEN} }
  users: { U024BE7LH: alice, U0BOB: bob, aoa1agao6t8fmx3ikt1j9w5ybw: carol }
apps:
  - { name: web, project: group/web, image: registry.example.com/group/web, tag: "v$CI_PIPELINE_ID" }
`);
    responseUrl = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        posted.push(JSON.parse(body) as (typeof posted)[number]);
        res.end('ok');
      });
    }).listen(0, '127.0.0.1');
    await new Promise((r) => responseUrl.once('listening', r));
  });
  afterAll(async () => {
    responseUrl.close();
    await hoist.close();
    await gitops.cleanup();
  });

  const hook = () => `http://127.0.0.1:${(responseUrl.address() as AddressInfo).port}/hooks/${randomUUID()}`;
  const slack = async (body: string) => {
    const ts = String(Math.floor(Date.now() / 1000));
    return hoist.app.request('/chatops/slack', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Slack-Request-Timestamp': ts, 'X-Slack-Signature': slackSignature(SLACK_SECRET, ts, body) },
      body,
    });
  };
  const command = (user: string, text: string) =>
    new URLSearchParams({ token: 'legacy', team_id: 'T0001', team_domain: 'example', channel_id: 'C2147483705', channel_name: 'deploys', user_id: user, user_name: user, command: '/hoist', text, response_url: hook(), trigger_id: '1.2.3', api_app_id: 'A0001' }).toString();
  const prodTag = async () => /newTag: "([^"]+)"/.exec(await git(gitops.bare, 'show', 'main:overlays/prod/kustomization.yaml'))?.[1];

  it('promotes to prod from Slack, approves with the button and from Mattermost, and reports it', async () => {
    const res = await hoist.app.request('/webhooks/gitlab', webhookRequest(await pipelineEvent({ project: 'group/web', id: 77, sha: 'f'.repeat(40) })));
    await settled(hoist, ((await res.json()) as { promotions: Array<{ id: string }> }).promotions[0]!.id);

    const bobAsks = await slack(command('U0BOB', 'promote web prod'));
    expect(bobAsks.status).toBe(200);
    const refusal = await waitFor(async () => posted.find((p) => /not allowed/.test(p.text)), 'the refusal for bob');
    expect(refusal.text).toMatch(/bob is not allowed to promote to prod/);

    const ack = await slack(command('U024BE7LH', 'promote web prod'));
    expect(ack.status).toBe(200);
    expect(((await ack.json()) as { response_type: string }).response_type).toBe('ephemeral');
    const outcome = await waitFor(async () => posted.find((p) => p.blocks?.some((b) => b.type === 'actions')), 'the promotion posted with an Approve button');
    expect(outcome.text).toMatch(/awaiting-approval/);
    const button = outcome.blocks!.find((b) => b.type === 'actions')!.elements![0]!;
    expect(button.action_id).toBe('hoist_approve');
    const id = button.value;

    const click = new URLSearchParams({ payload: JSON.stringify({ type: 'block_actions', user: { id: 'U0BOB', username: 'bob' }, actions: [{ action_id: 'hoist_approve', value: id, type: 'button' }], response_url: hook(), team: { id: 'T0001' }, channel: { id: 'C2147483705' } }) }).toString();
    expect((await slack(click)).status).toBe(200);
    await waitFor(async () => ((await (await hoist.app.request(`/api/promotions/${id}`, { headers: { Authorization: `Bearer ${API_TOKEN}` } })).json()) as { approvals?: { missing: number } }).approvals?.missing === 1 || undefined, 'bob\'s approval');

    const mm = await hoist.app.request('/chatops/mattermost', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: `Token ${MM_TOKEN}` },
      body: new URLSearchParams({ channel_id: 'jux16pkewjrkfj3ehep1psxyxc', command: '/hoist', text: `approve ${id}`, token: MM_TOKEN, user_id: 'aoa1agao6t8fmx3ikt1j9w5ybw', user_name: 'carol' }).toString(),
    });
    expect(mm.status).toBe(200);
    expect(await settled(hoist, id)).toMatchObject({ state: 'committed' });
    expect(await prodTag()).toBe('v77');

    const history = await hoist.app.request('/chatops/mattermost', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: `Token ${MM_TOKEN}` },
      body: new URLSearchParams({ command: '/hoist', text: 'history web prod', token: MM_TOKEN, user_id: 'stranger' }).toString(),
    });
    const text = ((await history.json()) as { text: string }).text;
    expect(text).toMatch(/v77/);
    expect(text).toMatch(/alice/);
  });

  it('refuses unsigned, replayed and tampered Slack requests without acting', async () => {
    const body = command('U024BE7LH', 'rollback web prod');
    const old = String(Math.floor(Date.now() / 1000) - 6 * 60);
    const replay = await hoist.app.request('/chatops/slack', { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Slack-Request-Timestamp': old, 'X-Slack-Signature': slackSignature(SLACK_SECRET, old, body) }, body });
    expect(replay.status).toBe(401);
    const ts = String(Math.floor(Date.now() / 1000));
    const tampered = await hoist.app.request('/chatops/slack', { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Slack-Request-Timestamp': ts, 'X-Slack-Signature': slackSignature(SLACK_SECRET, ts, body) }, body: body.replace('rollback', 'rollbak') });
    expect(tampered.status).toBe(401);
    expect((await hoist.app.request('/chatops/slack', { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body })).status).toBe(401);
    expect(await prodTag()).toBe('v77');
  });
});
