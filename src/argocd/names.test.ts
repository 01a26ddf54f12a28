import { describe, expect, it } from 'vitest';
import { HoistError } from '../errors.js';
import { applicationName, matchApplication, validateApplicationTemplate } from './names.js';

describe('applicationName', () => {
  it('fills {{app}} and {{env}}, with or without spaces inside the braces', () => {
    expect(applicationName('{{app}}-{{env}}', { app: 'web', env: 'dev' })).toBe('web-dev');
    expect(applicationName('{{ app }}.{{  env }}', { app: 'web', env: 'prod' })).toBe('web.prod');
    expect(applicationName('apps-{{env}}', { app: 'web', env: 'staging' })).toBe('apps-staging');
    expect(applicationName('{{env}}-{{app}}-{{env}}', { app: 'api', env: 'dev' })).toBe('dev-api-dev');
  });

  it('throws template_invalid for any other placeholder', () => {
    const call = () => applicationName('{{app}}-{{environment}}', { app: 'web', env: 'dev' });
    expect(call).toThrow(HoistError);
    expect(call).toThrow(/\{\{environment\}\}/);
    try {
      call();
    } catch (error) {
      expect((error as HoistError).code).toBe('template_invalid');
      expect((error as HoistError).retryable).toBe(false);
    }
  });
});

describe('validateApplicationTemplate', () => {
  it.each(['{{app}}-{{env}}', '{{env}}', 'web-{{ env }}', '{{app}}.{{env}}.apps'])('accepts %s', (template) => {
    expect(validateApplicationTemplate(template)).toBeUndefined();
  });

  it.each([
    ['', /empty/],
    ['   ', /empty/],
    ['{{app}}-{{ns}}', /unknown placeholder \{\{ns\}\}/],
    ['{{.app}}-{{env}}', /unknown placeholder \{\{\.app\}\}/],
    ['{{}}-{{env}}', /unknown placeholder/],
    ['{{app}}-{{env', /unclosed/],
    ['{{app}}-}}{{env}}', /stray/],
    ['{{app}}', /must contain \{\{env\}\}/],
    ['web', /must contain \{\{env\}\}/],
    ['Web-{{env}}', /not valid in an Application name/],
    ['team/{{app}}-{{env}}', /not valid in an Application name/],
  ])('rejects %j', (template, message) => {
    expect(validateApplicationTemplate(template)).toMatch(message);
  });
});

describe('matchApplication', () => {
  const apps = ['web', 'api'];
  const envs = ['dev', 'staging', 'prod'];

  it('finds the env and app that produce a name', () => {
    expect(matchApplication('{{app}}-{{env}}', 'api-staging', apps, envs)).toEqual([{ env: 'staging', app: 'api' }]);
    expect(matchApplication('{{ env }}.{{ app }}', 'prod.web', apps, envs)).toEqual([{ env: 'prod', app: 'web' }]);
  });

  it('matches nothing for a name outside the template, an unknown app or env, or an invalid template', () => {
    expect(matchApplication('{{app}}-{{env}}', 'web-qa', apps, envs)).toEqual([]);
    expect(matchApplication('{{app}}-{{env}}', 'worker-dev', apps, envs)).toEqual([]);
    expect(matchApplication('{{app}}-{{env}}', 'argocd', apps, envs)).toEqual([]);
    expect(matchApplication('{{app}}-{{bad}}', 'web-dev', apps, envs)).toEqual([]);
  });

  it('returns env entries without an app when one Application holds every app of an environment', () => {
    expect(matchApplication('apps-{{env}}', 'apps-dev', apps, envs)).toEqual([{ env: 'dev' }]);
    expect(matchApplication('apps-{{env}}', 'web-dev', apps, envs)).toEqual([]);
  });

  it('returns every pair when names collide, so the caller sees the ambiguity', () => {
    expect(matchApplication('{{app}}-{{env}}', 'web-dev-dev', ['web', 'web-dev'], ['dev', 'dev-dev'])).toEqual([
      { env: 'dev', app: 'web-dev' },
      { env: 'dev-dev', app: 'web' },
    ]);
  });

  it('agrees with applicationName for every pair', () => {
    for (const env of envs) {
      for (const app of apps) {
        expect(matchApplication('{{app}}-{{env}}', applicationName('{{app}}-{{env}}', { app, env }), apps, envs)).toEqual([{ env, app }]);
      }
    }
  });
});
