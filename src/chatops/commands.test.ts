import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { HoistError } from '../errors.js';
import type { PromotionService } from '../service/promotion-service.js';
import { acknowledgement, resolveActor, runCommand, type CommandContext } from './commands.js';
import type { ParsedCommand } from './grammar.js';

const users = { U024BE7LH: 'alice', aoa1agao6t8fmx3ikt1j9w5ybw: 'bob' };

describe('resolveActor', () => {
  it('maps configured chat ids to names, with the channel', () => {
    expect(resolveActor(users, 'U024BE7LH', 'slack')).toEqual({ name: 'alice', via: 'slack' });
    expect(resolveActor(users, 'aoa1agao6t8fmx3ikt1j9w5ybw', 'mattermost')).toEqual({ name: 'bob', via: 'mattermost' });
  });
  it('knows nobody else, whatever Object.prototype holds', () => {
    for (const id of ['U999', 'constructor', '__proto__', 'toString', 'hasOwnProperty', 'u024be7lh']) expect(resolveActor(users, id, 'slack')).toBeUndefined();
  });
});

/** Only the calls a test makes are implemented; any other call fails the test loudly. */
function serviceWith(overrides: Partial<PromotionService>): PromotionService {
  return new Proxy(overrides as PromotionService, {
    get(target, key: string) {
      const value = (target as unknown as Record<string, unknown>)[key];
      if (value === undefined) throw new Error(`unexpected service call ${key}`);
      return value;
    },
  });
}

function ctx(service: PromotionService, actor: CommandContext['actor']): CommandContext {
  return { service, flavor: 'slack', platform: 'Slack', userId: 'U1', actor, commandName: '/hoist', logger: pino({ level: 'silent' }) };
}

describe('runCommand', () => {
  it('refuses acting commands to unmapped users without calling the service', async () => {
    const acting: ParsedCommand[] = [
      { kind: 'promote', apps: ['web'], env: 'prod' },
      { kind: 'approve', id: 'p-1' },
      { kind: 'cancel', id: 'p-1' },
      { kind: 'rollback', app: 'web', env: 'prod' },
    ];
    for (const command of acting) {
      const reply = await runCommand(command, ctx(serviceWith({}), undefined));
      expect(reply).toEqual({ visibility: 'ephemeral', text: expect.stringContaining('is not mapped in `chatops.users`') });
    }
  });

  it('lets unmapped users read', async () => {
    const service = serviceWith({ history: async () => [] });
    expect(await runCommand({ kind: 'history', app: 'web' }, ctx(service, undefined))).toEqual({ visibility: 'ephemeral', text: 'No history for web.' });
    expect((await runCommand({ kind: 'help' }, ctx(service, undefined))).text).toContain('/hoist promote');
  });

  it('turns every service refusal into a reply, never a rejection', async () => {
    const actor = { name: 'eve', via: 'slack' } as const;
    const refusing = serviceWith({
      requestPromotion: async () => {
        throw new HoistError('forbidden', 'eve is not allowed to promote to prod (rbac.promote.prod)');
      },
      cancel: async () => {
        throw new HoistError('conflict', 'p-1 already committed');
      },
      approve: async () => {
        throw new TypeError('boom');
      },
    });
    expect(await runCommand({ kind: 'promote', apps: ['web'], env: 'prod' }, ctx(refusing, actor))).toEqual({
      visibility: 'ephemeral',
      text: '🚫 not allowed: eve is not allowed to promote to prod (rbac.promote.prod)',
    });
    expect((await runCommand({ kind: 'cancel', id: 'p-1' }, ctx(refusing, actor))).text).toBe('⚠️ conflict: p-1 already committed');
    expect((await runCommand({ kind: 'approve', id: 'p-1' }, ctx(refusing, actor))).text).toMatch(/failed inside Hoist/);
  });

  it('acknowledges what it is about to do', () => {
    expect(acknowledgement('slack', { kind: 'promote', apps: ['web', 'api'], env: 'prod', tag: 'v2' })).toBe('⏳ asking Hoist to promote web, api to prod at `v2`…');
    expect(acknowledgement('slack', { kind: 'approve', id: 'p-1' })).toBe('⏳ approving `p-1`…');
  });
});
