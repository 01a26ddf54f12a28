import { HoistError } from '../errors.js';

/** `{{app}}`, `{{ env }}`, …: whitespace inside the braces is allowed, as in Argo CD's own templates. */
const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;
const KNOWN = new Set(['app', 'env']);
/**
 * Application names are Kubernetes object names (DNS-1123 subdomains: lowercase letters, digits, `-`
 * and `.`); the template's literal text may only hold those, or the name could never match.
 */
const LITERAL = /^[a-z0-9.-]*$/;

/** Why the `argocd.applications` template cannot work, or undefined when it can. */
export function validateApplicationTemplate(template: string): string | undefined {
  if (template.trim() === '') return 'must not be empty; use e.g. "{{app}}-{{env}}"';
  const names = [...template.matchAll(PLACEHOLDER)].map((m) => m[1] ?? '');
  const unknown = names.filter((name) => !KNOWN.has(name));
  if (unknown.length > 0) {
    return `unknown placeholder ${unknown.map((n) => `{{${n}}}`).join(', ')}: only {{app}} and {{env}} are defined`;
  }
  const literal = template.replace(PLACEHOLDER, '');
  if (literal.includes('{{') || literal.includes('}}')) return 'has an unclosed "{{" or a stray "}}"';
  // Every environment is its own overlay and so its own Application; without {{env}} they would share one name.
  if (!names.includes('env')) return 'must contain {{env}}: each environment is synced by its own Application';
  if (!LITERAL.test(literal)) {
    return `"${literal}" is not valid in an Application name (lowercase letters, digits, "-" and "." only)`;
  }
  return undefined;
}

/** The Argo CD Application that syncs `app` in `env`, from the `argocd.applications` template. */
export function applicationName(template: string, vars: { app: string; env: string }): string {
  const problem = validateApplicationTemplate(template);
  if (problem) throw new HoistError('template_invalid', `argocd.applications "${template}" ${problem}`);
  return template.replace(PLACEHOLDER, (_match, name: string) => (name === 'app' ? vars.app : vars.env));
}

/**
 * Which environment/app pairs the template maps to this Application name (a notification names only the
 * Application). Without `{{app}}` in the template one Application holds every app of its environment, so
 * the entries carry no app. An invalid template matches nothing.
 */
export function matchApplication(
  template: string,
  name: string,
  apps: readonly string[],
  envs: readonly string[],
): Array<{ env: string; app?: string }> {
  if (validateApplicationTemplate(template)) return [];
  const perApp = [...template.matchAll(PLACEHOLDER)].some((m) => m[1] === 'app');
  const matches: Array<{ env: string; app?: string }> = [];
  for (const env of envs) {
    if (!perApp) {
      if (applicationName(template, { app: '', env }) === name) matches.push({ env });
      continue;
    }
    for (const app of apps) if (applicationName(template, { app, env }) === name) matches.push({ env, app });
  }
  return matches;
}
