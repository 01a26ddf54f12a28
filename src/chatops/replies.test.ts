import { describe, expect, it } from 'vitest';
import { HoistError } from '../errors.js';
import type { HistoryEntry, PromotionView } from '../service/promotion-service.js';
import { bold, code, formatHistory, formatPromotion, formatServiceError, formatStatus, grammarText, helpText, plain, slackPromotionBlocks, unmappedUserText } from './replies.js';

function view(overrides: Partial<PromotionView> = {}): PromotionView {
  return {
    id: 'p-3b0c',
    app: 'web',
    env: 'prod',
    tag: 'v1',
    apps: [{ app: 'web', tag: 'v1' }],
    state: 'awaiting-approval',
    kind: 'manual',
    requestedBy: 'alice',
    image: 'registry.example.com/group/web',
    attempts: 0,
    createdAt: '2026-11-23T09:00:00.000Z',
    updatedAt: '2026-11-23T09:00:00.000Z',
    ...overrides,
  };
}

describe('formatPromotion', () => {
  it('shows id, apps and tags, env, state, gates, approvals and who asked', () => {
    const text = formatPromotion(
      'slack',
      view({
        gates: [
          { gate: 'soak', status: 'passed', reason: 'in staging for 12m' },
          { gate: 'window', status: 'waiting', reason: 'outside the window Mon-Fri 08:00-17:00 Europe/Berlin; opens 2027-01-06T07:00:00.000Z' },
        ],
        approvals: { required: 2, given: [{ by: 'bob', at: '2026-11-23T09:01:00.000Z' }], missing: 1 },
      }),
    );
    expect(text.split('\n')).toEqual([
      '✋ *Promotion p-3b0c* · web `v1` → *prod* · awaiting-approval (manual, requested by alice)',
      'Gates:',
      '• ✔︎ soak: passed — in staging for 12m',
      '• … window: waiting — outside the window Mon-Fri 08:00-17:00 Europe/Berlin; opens 2027-01-06T07:00:00.000Z',
      'Approvals: 1 of 2 (bob); 1 missing',
    ]);
  });

  it('lists every app of a release train and the short commit sha once landed', () => {
    const text = formatPromotion(
      'mattermost',
      view({ state: 'committed', apps: [{ app: 'web', tag: 'v1' }, { app: 'api', tag: 'v7' }], commit: '4f2a9c1e0b9d8c7a6f5e4d3c2b1a09f8e7d6c5b4' }),
    );
    expect(text).toContain('✅ **Promotion p-3b0c** · web `v1`, api `v7` → **prod** · committed');
    expect(text).toContain('Commit: `4f2a9c1e`');
    expect(text).not.toContain('4f2a9c1e0');
  });

  it('says why a promotion failed or was skipped; pipeline promotions name no requester', () => {
    const text = formatPromotion('slack', view({ kind: 'pipeline', requestedBy: undefined, state: 'failed', error: 'render check: image not in output', reason: 'older pipeline' }));
    expect(text).toContain('❌ *Promotion p-3b0c*');
    expect(text).not.toContain('requested by');
    expect(text).toContain('Reason: older pipeline');
    expect(text).toContain('Error: render check: image not in output');
  });

  it("escapes Slack's control characters in anything that came from outside", () => {
    const text = formatPromotion('slack', view({ state: 'failed', error: 'push refused <!channel> & more' }));
    expect(text).toContain('push refused &lt;!channel&gt; &amp; more');
    expect(formatPromotion('mattermost', view({ state: 'failed', error: 'a < b' }))).toContain('a < b');
  });
});

describe('formatStatus', () => {
  const status = {
    commit: '9f8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d7c6',
    environments: [
      { name: 'dev', apps: [{ app: 'web', tag: '4f2a9c1e' }, { app: 'api', tag: 'a1b2c3d4' }] },
      { name: 'staging', apps: [{ app: 'web', tag: '3e1d0c9b' }, { app: 'api', tag: null }] },
      { name: 'prod', apps: [{ app: 'web', tag: 'v1' }] },
    ],
  };
  it('draws apps down and environments across in a code block', () => {
    expect(formatStatus('slack', status)).toBe(
      ['*Environments* at `9f8e7d6c`', '```', 'app  dev       staging   prod', 'web  4f2a9c1e  3e1d0c9b  v1', 'api  a1b2c3d4  —         —', '```'].join('\n'),
    );
  });
  it('adds what is waiting and why', () => {
    const text = formatStatus('mattermost', status, [
      view({ approvals: { required: 2, given: [], missing: 2 } }),
      view({ id: 'p-9', env: 'staging', state: 'waiting', kind: 'gated', gates: [{ gate: 'soak', status: 'waiting', reason: 'soaking: 6m to go' }] }),
    ]);
    expect(text).toContain('**Waiting**');
    expect(text).toContain('• `p-3b0c` web `v1` → prod · awaiting-approval (2 approvals missing)');
    expect(text).toContain('• `p-9` web `v1` → staging · waiting (soak: soaking: 6m to go)');
  });
  it('says so when nothing is deployed', () => {
    expect(formatStatus('slack', { commit: 'abc', environments: [{ name: 'dev', apps: [] }] })).toContain('No apps deployed yet.');
  });
  it('says where a Rollout is, beside its tag, and in the promotion too', () => {
    const rollout = { strategy: 'canary' as const, name: 'web', step: 2, steps: 5, weight: 20, paused: true, pauseReason: 'CanaryPauseStep', phase: 'Paused' };
    const text = formatStatus('mattermost', { commit: 'abc', environments: [{ name: 'dev', apps: [{ app: 'web', tag: 'v2', rollout }] }] });
    expect(text).toContain('web  v2 (canary 2/5 at 20 %, paused)');
    expect(formatPromotion('mattermost', view({ state: 'committed', rollout }))).toContain('Rollout: canary 2/5 at 20 %, paused');
  });
});

describe('formatHistory', () => {
  const entry = (n: number): HistoryEntry => ({
    commit: `${n}`.padStart(40, 'a'),
    date: `2026-11-${String(10 + n).padStart(2, '0')}T09:00:00.000Z`,
    app: 'web',
    env: 'prod',
    tag: `v${n}`,
    promotion: `p-${n}`,
    kind: 'manual',
    source: 'https://gitlab.example.com/group/web/-/pipelines/42',
    requestedBy: 'alice',
    approvedBy: ['bob', 'carol'],
  });
  it('lists entries newest first with who asked and approved, linking the pipeline', () => {
    const text = formatHistory('slack', [entry(2), entry(1)], { app: 'web', env: 'prod' });
    expect(text.split('\n')[0]).toBe('*History of web in prod*');
    expect(text.split('\n')[1]).toBe(
      '• 2026-11-12 09:00:00 UTC web `v2` → prod (manual, by alice, approved by bob, carol) `aaaaaaaa` · <https://gitlab.example.com/group/web/-/pipelines/42|pipeline>',
    );
    expect(formatHistory('mattermost', [entry(1)], { app: 'web' })).toContain('[pipeline](https://gitlab.example.com/group/web/-/pipelines/42)');
  });
  it('caps the list and says how many are left out', () => {
    const text = formatHistory('slack', Array.from({ length: 13 }, (_, i) => entry(i)), { app: 'web' });
    expect(text.split('\n')).toHaveLength(1 + 10 + 1);
    expect(text).toContain('…and 3 older');
  });
  it('says so when there is none', () => {
    expect(formatHistory('slack', [], { app: 'web', env: 'prod' })).toBe('No history for web in prod.');
  });
});

describe('help, errors and refusals', () => {
  it('help lists every command with the slash command the user typed', () => {
    const text = helpText('mattermost', '/hoist');
    for (const usage of ['promote <app>[,<app>…] <env> [tag]', 'approve <id>', 'cancel <id>', 'rollback <app> <env> [tag]', 'status [app]', 'history <app> [env]']) {
      expect(text).toContain(`\`/hoist ${usage}\``);
    }
    // Slack would read <app> as a link or mention: escaped, it shows as typed.
    expect(helpText('slack', '/hoist')).toContain('`/hoist approve &lt;id&gt;`');
    expect(helpText('mattermost', '/deploy', 'rollback')).toBe('• `/deploy rollback <app> <env> [tag]` — go back to the previous tag (or the one given) in <env>, as a new commit');
  });
  it('maps service refusals to plain words', () => {
    expect(formatServiceError('slack', new HoistError('forbidden', 'eve is not allowed to promote to prod (rbac.promote.prod)'))).toBe(
      '🚫 not allowed: eve is not allowed to promote to prod (rbac.promote.prod)',
    );
    expect(formatServiceError('slack', new HoistError('not_found', 'no promotion p-1'))).toBe('🔍 not found: no promotion p-1');
    expect(formatServiceError('slack', new HoistError('bad_request', 'unknown environment "qa"'))).toBe('⚠️ can\'t do that: unknown environment "qa"');
    expect(formatServiceError('slack', new HoistError('conflict', 'bob already approved p-1'))).toBe('⚠️ conflict: bob already approved p-1');
    expect(formatServiceError('slack', new HoistError('unavailable', 'redis down'))).toMatch(/try again/);
  });
  it('tells an unmapped user what to do', () => {
    expect(unmappedUserText('slack', 'Slack', 'U999')).toMatch(/^🚫 not allowed: your Slack user id `U999` is not mapped in `chatops.users`/);
  });
});

describe('slackPromotionBlocks', () => {
  it('adds an Approve button carrying the promotion id while approvals are missing', () => {
    const blocks = slackPromotionBlocks('text', view());
    expect(blocks).toEqual([
      { type: 'section', text: { type: 'mrkdwn', text: 'text' } },
      { type: 'actions', elements: [{ type: 'button', action_id: 'hoist_approve', style: 'primary', text: { type: 'plain_text', text: 'Approve' }, value: 'p-3b0c' }] },
    ]);
  });
  it('has no button otherwise, and keeps the section under Slack’s 3000 characters', () => {
    const blocks = slackPromotionBlocks('x'.repeat(5000), view({ state: 'queued' }));
    expect(blocks).toHaveLength(1);
    expect(((blocks[0] as { text: { text: string } }).text.text).length).toBe(3000);
  });
});

describe('GitLab comments (GitLab Flavored Markdown)', () => {
  it('puts a backslash before every character GitLab reserves, so nothing typed becomes a mention, reference, link or HTML', () => {
    expect(plain('gitlab', '@all #1 !2 ~bug %v1 $3 &4 <b>x</b> [a](http://e.x) *y* _z_ :smile:')).toBe(
      '\\@all \\#1 \\!2 \\~bug \\%v1 \\$3 \\&4 \\<b\\>x\\<\\/b\\> \\[a\\]\\(http\\:\\/\\/e\\.x\\) \\*y\\* \\_z\\_ \\:smile\\:',
    );
    // A line break would start a block of its own, or a quick action such as /close.
    expect(plain('gitlab', 'ok\n/close')).toBe('ok \\/close');
  });

  it('keeps code spans verbatim (nothing is a reference inside one) and bold text escaped', () => {
    expect(code('gitlab', '@all `x` <b>')).toBe("`@all 'x' <b>`");
    expect(bold('gitlab', 'Promotion p-1')).toBe('**Promotion p\\-1**');
  });

  it("renders the grammar's messages with their code spans kept and the rest escaped, a lone backtick included", () => {
    expect(grammarText('gitlab', '`@all` is not a valid app name. Usage: `promote <app>`')).toBe('`@all` is not a valid app name\\. Usage\\: `promote <app>`');
    expect(grammarText('gitlab', 'odd `one @all')).toBe('odd \\`one \\@all');
    expect(grammarText('slack', '`<@U1>`')).toBe('`&lt;@U1&gt;`');
    expect(grammarText('mattermost', '`x` @y')).toBe('`x` @y');
  });

  it('formats a promotion and a status grid for GitLab', () => {
    expect(formatPromotion('gitlab', view()).split('\n')[0]).toBe('✋ **Promotion p\\-3b0c** · web `v1` → **prod** · awaiting\\-approval (manual, requested by alice)');
    const grid = formatStatus('gitlab', { commit: 'abcdef0123456789', environments: [{ name: 'prod', apps: [{ app: 'web', tag: 'v<1>' }] }] });
    // Inside the code block nothing is escaped: GitLab shows it as it is.
    expect(grid).toContain('web  v<1>');
  });
});
