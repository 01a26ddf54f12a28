import { isAbsolute, join } from 'node:path';

/** What the `hoist` command reads from the environment, here and nowhere else. */
export interface CliEnv {
  /** HOIST_URL: the Hoist to talk to; overrides the saved login (pipelines). */
  url: string | undefined;
  /** HOIST_TOKEN: a personal API token (or api.token); overrides the saved login. */
  token: string | undefined;
  /** Where `hoist login` saves the URL and token: $XDG_CONFIG_HOME/hoist/config.json, else ~/.config/hoist/config.json. */
  configFile: string | undefined;
  /** NO_COLOR set to anything but "" (no-color.org): plain text even on a terminal. */
  noColor: boolean;
}

const given = (value: string | undefined) => (value === undefined || value.trim() === '' ? undefined : value.trim());

export function readCliEnv(env: NodeJS.ProcessEnv = process.env): CliEnv {
  // The XDG spec ignores a relative XDG_CONFIG_HOME: it would name a different file in every directory.
  const xdg = given(env.XDG_CONFIG_HOME);
  const home = given(env.HOME);
  const configHome = xdg !== undefined && isAbsolute(xdg) ? xdg : home !== undefined ? join(home, '.config') : undefined;
  return {
    url: given(env.HOIST_URL),
    token: given(env.HOIST_TOKEN),
    configFile: configHome === undefined ? undefined : join(configHome, 'hoist', 'config.json'),
    noColor: env.NO_COLOR !== undefined && env.NO_COLOR !== '',
  };
}
