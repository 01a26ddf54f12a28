import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { HoistError } from '../errors.js';
import { readApplicationState } from './client.js';
import { judgeApplication } from './judge.js';
import { argoNotificationSchema, toApplicationNotice } from './notifications.js';

type Json = Record<string, unknown>;

const fixtureText = readFileSync(new URL('../../test/fixtures/argocd/application.json', import.meta.url), 'utf8');
/** A fresh copy of Argo CD's test Application (test/fixtures/argocd/README.md), to derive variants from. */
const fixture = (): Json => JSON.parse(fixtureText) as Json;
const status = (app: Json) => app.status as { sync: Json; health: Json; operationState?: Json };

const configMap = parse(readFileSync(new URL('../../gitops-manifests/argocd/notifications-cm.yaml', import.meta.url), 'utf8')) as {
  data: Record<string, string>;
};

function lookup(data: unknown, path: string): unknown {
  let value = data;
  for (const key of path.split('.').filter(Boolean)) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Json)[key];
  }
  return value;
}

/**
 * The slice of Go text/template our templates use: `{{.app.a.b}}` (prints `<no value>` for a missing key,
 * as text/template does on a map) and `{{toJson .app.a.b}}` (sprig: JSON, `null` for a missing key).
 * Anything else fails, so a template that outgrows this is not checked wrongly.
 */
function renderTemplate(template: string, vars: Json): string {
  return template.replace(/\{\{-?\s*(.*?)\s*-?\}\}/g, (_all, action: string) => {
    let m: RegExpMatchArray | null;
    if ((m = action.match(/^toJson\s+(\.[\w.]+)$/))) return JSON.stringify(lookup(vars, m[1] ?? '') ?? null);
    if ((m = action.match(/^(\.[\w.]+)$/))) {
      const value = lookup(vars, m[1] ?? '');
      return value === undefined || value === null ? '<no value>' : String(value);
    }
    throw new Error(`unsupported template action {{${action}}}`);
  });
}

function webhookBody(templateName: string): string {
  const template = parse(configMap.data[`template.${templateName}`] ?? '') as { webhook?: { hoist?: { method?: string; body?: string } } };
  expect(template.webhook?.hoist?.method).toBe('POST');
  const body = template.webhook?.hoist?.body;
  if (!body) throw new Error(`template.${templateName} has no webhook.hoist.body`);
  return body;
}

describe('toApplicationNotice', () => {
  it('reads the body our templates send', () => {
    const notice = toApplicationNotice({
      trigger: 'on-deployed',
      application: 'web-dev',
      revision: 'ea8759964626a583667a2bfd08f334ec2070040a',
      sync: 'Synced',
      health: 'Healthy',
      phase: 'Succeeded',
      message: 'successfully synced (all tasks run)',
    });
    expect(notice).toEqual({
      trigger: 'on-deployed',
      state: {
        name: 'web-dev',
        revision: 'ea8759964626a583667a2bfd08f334ec2070040a',
        sync: 'Synced',
        health: 'Healthy',
        phase: 'Succeeded',
        healthMessage: 'successfully synced (all tasks run)',
      },
    });
  });

  it('treats "", "<no value>" and null (what Go templating leaves for missing fields) as absent', () => {
    const notice = toApplicationNotice({ application: 'web-dev', revision: '<no value>', sync: '', health: null, phase: ' <no value> ', message: '' });
    expect(notice).toEqual({ state: { name: 'web-dev', sync: 'Unknown', health: 'Unknown' } });
    expect(judgeApplication(notice.state)).toBe('progressing');
  });

  it.each([
    ['on-deployed', { sync: 'Synced', health: 'Healthy', phase: 'Succeeded' }, 'deployed'],
    ['on-health-degraded', { sync: 'Unknown', health: 'Degraded' }, 'degraded'],
    ['on-sync-failed', { sync: 'Unknown', health: 'Unknown', phase: 'Failed' }, 'failed'],
  ] as const)('derives the state from %s when only the trigger is known', (trigger, fields, verdict) => {
    const notice = toApplicationNotice({ trigger, application: 'web-dev', revision: '<no value>' });
    expect(notice.trigger).toBe(trigger);
    expect(notice.state).toEqual({ name: 'web-dev', ...fields });
    expect(judgeApplication(notice.state)).toBe(verdict);
  });

  it('keeps what the body says over what the trigger implies', () => {
    // on-deployed does not look at sync status: a newer commit may already make the Application OutOfSync.
    const notice = toApplicationNotice({ trigger: 'on-deployed', application: 'web-dev', sync: 'OutOfSync' });
    expect(notice.state).toMatchObject({ sync: 'OutOfSync', health: 'Healthy', phase: 'Succeeded' });
    expect(judgeApplication(notice.state)).toBe('progressing');
  });

  it('reads a whole Application embedded as "app" or sent as the body itself', () => {
    const expected = {
      name: 'velero-test',
      revision: 'rev1',
      sync: 'Synced',
      health: 'Healthy',
      phase: 'Succeeded',
      operationRevision: 'ea8759964626a583667a2bfd08f334ec2070040a',
    };
    expect(toApplicationNotice({ app: fixture() })).toEqual({ state: expected });
    expect(toApplicationNotice({ trigger: 'on-deployed', app: fixture() })).toEqual({ trigger: 'on-deployed', state: expected });
    expect(toApplicationNotice(fixture())).toEqual({ state: expected });
    // Flat fields win over the embedded Application.
    expect(toApplicationNotice({ app: fixture(), application: 'web-dev', health: 'Degraded' }).state).toMatchObject({ name: 'web-dev', health: 'Degraded' });
  });

  it.each([
    [{}, /no Application name/],
    [{ trigger: 'on-deployed', application: '<no value>' }, /no Application name/],
    [{ app: { status: {} } }, /no Application name/],
    [{ trigger: 'on-sync-running', application: 'web-dev' }, /unknown trigger "on-sync-running"/],
    [{ application: 42 }, /application: Invalid input/],
    [{ application: 'web-dev', app: 'web-dev' }, /app: Invalid input/],
    [[{ application: 'web-dev' }], /body: Invalid input/],
    ['web-dev', /body: Invalid input/],
    [null, /body: Invalid input/],
  ])('rejects %j with bad_request', (body, message) => {
    let thrown: unknown;
    try {
      toApplicationNotice(body);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(HoistError);
    expect((thrown as HoistError).code).toBe('bad_request');
    expect((thrown as HoistError).retryable).toBe(false);
    expect((thrown as HoistError).message).toMatch(message);
  });

  it('exports the schema it validates with', () => {
    expect(argoNotificationSchema.safeParse({ application: 'web-dev', extra: true }).success).toBe(true);
    expect(argoNotificationSchema.safeParse({ application: ['web-dev'] }).success).toBe(false);
  });
});

describe('notifications-cm.yaml templates, rendered with the fixture Application', () => {
  // The fixture is deployed as it is; the other variants are derived here (the upstream sample has no
  // degraded or failed state, nor a health message).
  const deployed = fixture();
  const degraded = fixture();
  status(degraded).health = { status: 'Degraded', message: 'Deployment "velero" exceeded its progress deadline' };
  const failed = fixture();
  Object.assign(status(failed).operationState ?? {}, {
    phase: 'Failed',
    message: 'one or more objects failed to apply, reason: Deployment.apps "test-lla" is invalid: "spec.template"\nline two',
  });
  const neverOperated = fixture();
  status(neverOperated).health = { status: 'Degraded' };
  delete status(neverOperated).operationState;

  it.each([
    ['hoist-deployed', deployed, 'on-deployed', 'deployed', 'successfully synced (all tasks run)'],
    ['hoist-health-degraded', degraded, 'on-health-degraded', 'degraded', 'Deployment "velero" exceeded its progress deadline'],
    ['hoist-sync-failed', failed, 'on-sync-failed', 'failed', 'one or more objects failed to apply, reason: Deployment.apps "test-lla" is invalid: "spec.template"\nline two'],
  ] as const)('%s renders to valid JSON that Hoist reads as %s', (templateName, app, trigger, verdict, message) => {
    const body = JSON.parse(renderTemplate(webhookBody(templateName), { app })) as unknown;
    const notice = toApplicationNotice(body);
    const read = readApplicationState(app);
    expect(notice.trigger).toBe(trigger);
    expect(notice.state).toMatchObject({ name: 'velero-test', revision: read?.revision, sync: read?.sync, health: read?.health, phase: read?.phase, healthMessage: message });
    expect(judgeApplication(notice.state)).toBe(verdict);
  });

  it('renders fields of a missing operationState as null, which Hoist reads as absent', () => {
    const rendered = renderTemplate(webhookBody('hoist-health-degraded'), { app: neverOperated });
    const body = JSON.parse(rendered) as Json;
    expect(body.phase).toBeNull();
    const notice = toApplicationNotice(body);
    expect(notice.state.phase).toBeUndefined();
    expect(judgeApplication(notice.state)).toBe('degraded');
  });

  it('sends each template from the trigger it names, to the hoist webhook service with the bearer token', () => {
    for (const [trigger, template] of [
      ['on-deployed', 'hoist-deployed'],
      ['on-health-degraded', 'hoist-health-degraded'],
      ['on-sync-failed', 'hoist-sync-failed'],
    ] as const) {
      const conditions = parse(configMap.data[`trigger.${trigger}`] ?? '') as Array<{ when: string; oncePer?: string; send: string[] }>;
      expect(conditions.flatMap((c) => c.send)).toEqual([template]);
      expect(conditions.every((c) => c.when && c.oncePer === 'app.status.operationState?.syncResult?.revision')).toBe(true);
      expect(JSON.parse(renderTemplate(webhookBody(template), { app: deployed })) as Json).toMatchObject({ trigger });
    }
    const service = parse(configMap.data['service.webhook.hoist'] ?? '') as { url: string; headers: Array<{ name: string; value: string }> };
    expect(new URL(service.url).pathname).toBe('/webhooks/argocd');
    expect(service.headers).toContainEqual({ name: 'Authorization', value: 'Bearer $hoist-webhook-token' });
  });
});
