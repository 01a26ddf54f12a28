import { describe, expect, it } from 'vitest';
import { editDistance, parseCommand, suggestCommand, USAGE } from './grammar.js';

function errorOf(text: string): string {
  const result = parseCommand(text);
  if (result.kind !== 'error') throw new Error(`expected an error for "${text}", got ${JSON.stringify(result)}`);
  return result.message;
}

describe('parseCommand: every command', () => {
  it('promote, with and without a tag', () => {
    expect(parseCommand('promote web prod')).toEqual({ kind: 'promote', apps: ['web'], env: 'prod' });
    expect(parseCommand('promote web prod v1.2.3')).toEqual({ kind: 'promote', apps: ['web'], env: 'prod', tag: 'v1.2.3' });
  });
  it('promote a release train: a,b and a, b alike, duplicates once', () => {
    expect(parseCommand('promote web,api prod')).toEqual({ kind: 'promote', apps: ['web', 'api'], env: 'prod' });
    expect(parseCommand('promote web , api prod v2')).toEqual({ kind: 'promote', apps: ['web', 'api'], env: 'prod', tag: 'v2' });
    expect(parseCommand('promote web,api,web prod')).toEqual({ kind: 'promote', apps: ['web', 'api'], env: 'prod' });
  });
  it('approve and cancel take one id', () => {
    expect(parseCommand('approve p-3b0c1d')).toEqual({ kind: 'approve', id: 'p-3b0c1d' });
    expect(parseCommand('cancel p-3b0c1d')).toEqual({ kind: 'cancel', id: 'p-3b0c1d' });
  });
  it('rollout, with each of its actions, and what it refuses', () => {
    expect(parseCommand('rollout web dev resume')).toEqual({ kind: 'rollout', app: 'web', env: 'dev', action: 'resume' });
    expect(parseCommand('rollout web prod Promote-Full')).toEqual({ kind: 'rollout', app: 'web', env: 'prod', action: 'promote-full' });
    expect(parseCommand('rollout web dev abort')).toEqual({ kind: 'rollout', app: 'web', env: 'dev', action: 'abort' });
    expect(errorOf('rollout web dev')).toBe('`rollout` needs an app, an environment and one of `resume`, `promote-full`, `abort`. Usage: `rollout <app> <env> resume|promote-full|abort`');
    expect(errorOf('rollout web dev promote')).toMatch(/`promote` is not a Rollout action — did you mean `promote-full`\?/);
    expect(errorOf('rollout web dev pause')).toMatch(/`pause` is not a Rollout action\. Usage/);
    expect(errorOf('rollout web dev.eu resume')).toMatch(/`dev.eu` is not a valid environment name/);
  });
  it('rollback, with and without a tag', () => {
    expect(parseCommand('rollback web prod')).toEqual({ kind: 'rollback', app: 'web', env: 'prod' });
    expect(parseCommand('rollback web prod v1')).toEqual({ kind: 'rollback', app: 'web', env: 'prod', tag: 'v1' });
  });
  it('status, for all apps or one', () => {
    expect(parseCommand('status')).toEqual({ kind: 'status' });
    expect(parseCommand('status web')).toEqual({ kind: 'status', app: 'web' });
  });
  it('history of an app, optionally in one environment', () => {
    expect(parseCommand('history web')).toEqual({ kind: 'history', app: 'web' });
    expect(parseCommand('history web prod')).toEqual({ kind: 'history', app: 'web', env: 'prod' });
  });
  it('help, empty text and help about one command', () => {
    expect(parseCommand('help')).toEqual({ kind: 'help' });
    expect(parseCommand('')).toEqual({ kind: 'help' });
    expect(parseCommand('   ')).toEqual({ kind: 'help' });
    expect(parseCommand('help promote')).toEqual({ kind: 'help', topic: 'promote' });
    expect(parseCommand('help nonsense')).toEqual({ kind: 'help' });
  });
});

describe('parseCommand: whitespace and case', () => {
  it('ignores extra spaces, tabs and newlines around and between words', () => {
    expect(parseCommand('  promote \t web   prod\n v1  ')).toEqual({ kind: 'promote', apps: ['web'], env: 'prod', tag: 'v1' });
  });
  it('reads the command word in any case but keeps arguments as typed (tags are case-sensitive)', () => {
    expect(parseCommand('PROMOTE web prod RC1')).toEqual({ kind: 'promote', apps: ['web'], env: 'prod', tag: 'RC1' });
    expect(parseCommand('Status')).toEqual({ kind: 'status' });
    expect(parseCommand('Approve P-ABC')).toEqual({ kind: 'approve', id: 'P-ABC' });
  });
});

describe('parseCommand: wrong arity answers with the usage line', () => {
  it.each([
    ['promote', 'promote', /needs an app and an environment/],
    ['promote web', 'promote', /needs an environment/],
    ['promote web prod v1 extra', 'promote', /at most 3 arguments, got 4/],
    ['approve', 'approve', /needs a promotion id/],
    ['approve p-1 p-2', 'approve', /one promotion id, got 2 words/],
    ['cancel', 'cancel', /needs a promotion id/],
    ['rollback web', 'rollback', /needs an environment/],
    ['rollback', 'rollback', /needs an app and an environment/],
    ['rollback web prod v1 v2', 'rollback', /at most 3 arguments/],
    ['status web api', 'status', /at most one app/],
    ['history', 'history', /needs an app/],
    ['history web prod extra', 'history', /at most 2 arguments/],
  ] as const)('%s', (text, command, problem) => {
    const message = errorOf(text);
    expect(message).toMatch(problem);
    expect(message).toContain(`Usage: \`${USAGE[command]}\``);
  });
});

describe('parseCommand: malformed arguments', () => {
  it('refuses empty entries in app lists', () => {
    expect(errorOf('promote web,,api prod')).toMatch(/empty app name/);
    expect(errorOf('promote ,web prod')).toMatch(/empty app name/);
    expect(errorOf('promote web, prod')).toMatch(/needs an environment after the apps \(`web,prod` reads as one list of apps\)/);
  });
  it('refuses names and tags that could never exist', () => {
    expect(errorOf('promote web/x prod')).toMatch(/`web\/x` is not a valid app name/);
    expect(errorOf('promote web prod v1:latest')).toMatch(/not a valid image tag/);
    expect(errorOf('rollback web,api prod')).toMatch(/one app at a time/);
    expect(errorOf('approve <!channel>')).toMatch(/is not a promotion id/);
  });
  it('takes names and tags by the same rules as the config and the API', () => {
    // Config names: [a-z0-9][a-z0-9-]{0,62}; tags: OCI, at most 128 characters.
    expect(parseCommand(`promote ${'a'.repeat(63)} prod ${'t'.repeat(128)}`)).toMatchObject({ kind: 'promote', apps: ['a'.repeat(63)], tag: 't'.repeat(128) });
    expect(errorOf(`promote ${'a'.repeat(64)} prod`)).toMatch(/is not a valid app name/);
    expect(errorOf('promote Web prod')).toMatch(/`Web` is not a valid app name/);
    expect(errorOf('rollback web prod.eu')).toMatch(/`prod.eu` is not a valid environment name/);
    expect(errorOf(`promote web prod ${'t'.repeat(129)}`)).toMatch(/not a valid image tag/);
  });
  it('takes promotion ids of at most 100 characters', () => {
    expect(parseCommand(`approve p-${'0'.repeat(98)}`)).toEqual({ kind: 'approve', id: `p-${'0'.repeat(98)}` });
    expect(errorOf(`cancel p-${'0'.repeat(99)}`)).toMatch(/is not a promotion id/);
  });
  it('refuses a command longer than 1000 characters without parsing or echoing it', () => {
    const message = errorOf(`promte ${'x'.repeat(2_000)}`);
    expect(message).toBe('the command is 2007 characters long: at most 1000 are read. `help` lists the commands');
    expect(parseCommand(`status ${' '.repeat(990)}`)).toEqual({ kind: 'status' });
  });
});

describe('typos get a suggestion', () => {
  it.each([
    ['promte web prod', 'promote'],
    ['promot web prod', 'promote'],
    ['aprove p-1', 'approve'],
    ['stauts', 'status'],
    ['histroy web', 'history'],
    ['rolback web prod', 'rollback'],
    ['cancle p-1', 'cancel'],
    ['hepl', 'help'],
    ['prom web prod', 'promote'],
  ])('%s → %s', (text, meant) => {
    const message = errorOf(text);
    expect(message).toContain(`did you mean \`${meant}\`?`);
    expect(message).toContain(`Usage: \`${USAGE[meant as keyof typeof USAGE]}\``);
  });
  it('says exactly what was typed', () => {
    expect(errorOf('promte web prod')).toBe('unknown command `promte` — did you mean `promote`? Usage: `promote <app>[,<app>…] <env> [tag]`');
  });
  it('lists the commands when nothing is close', () => {
    const message = errorOf('deploy web prod');
    expect(message).toContain('unknown command `deploy`');
    expect(message).not.toContain('did you mean');
    expect(message).toContain('`promote`, `approve`, `cancel`, `rollback`, `rollout`, `status`, `history`, `help`');
  });
  it('does not stretch short words into commands', () => {
    expect(suggestCommand('xyz')).toBeUndefined();
    expect(suggestCommand('hi')).toBe('history');
  });
});

describe('editDistance', () => {
  it('counts insertions, deletions, substitutions and adjacent swaps', () => {
    expect(editDistance('promote', 'promote')).toBe(0);
    expect(editDistance('promte', 'promote')).toBe(1);
    expect(editDistance('stauts', 'status')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'help')).toBe(4);
  });
});
