import type { CliEnv } from '../config/cli-env.js';
import type { HoistError } from '../errors.js';
import { createHoistClient, type HoistClient } from './client.js';
import { readSavedLogin, resolveTarget } from './credentials.js';
import { clean, createOutput, type CliStreams, type Output } from './output.js';

/** What every command gets: the streams, the environment, the way to the Hoist it talks to. */
export interface CommandContext {
  streams: CliStreams;
  env: CliEnv;
  output(options: { json?: boolean | undefined }): Output;
  /** The API client for HOIST_URL/HOIST_TOKEN or the saved login. */
  client(): Promise<HoistClient>;
  /** While a command waits, Ctrl-C aborts the signal (the wait stops, the promotion goes on) instead of killing it. */
  trapInterrupt: InterruptTrap;
}

export type InterruptTrap = () => { signal: AbortSignal; release(): void };

export function createContext(streams: CliStreams, env: CliEnv, trapInterrupt: InterruptTrap): CommandContext {
  return {
    streams,
    env,
    trapInterrupt,
    output: (options) => createOutput(streams, { json: options.json === true, noColor: env.noColor }),
    async client() {
      const target = resolveTarget(env, await readSavedLogin(env.configFile));
      return createHoistClient(target);
    },
  };
}

/** Exit codes a pipeline can act on. */
export const EXIT = { done: 0, refused: 1, usage: 2, unreachable: 3 } as const;

/**
 * A HoistError as the command's end: `unavailable` is Hoist out of reach (3), `config_invalid` the CLI's own set-up
 * (not logged in, a bad URL: 2), anything else a refusal or failure (1). The reason goes to stderr; under --json
 * stdout still gets one document, in the API's error shape.
 */
export function reportError(error: HoistError, out: Output): number {
  const code = error.code === 'unavailable' ? EXIT.unreachable : error.code === 'config_invalid' ? EXIT.usage : EXIT.refused;
  const hint = error.code === 'unauthorized' ? ' (check the token: `hoist login`, or HOIST_TOKEN)' : '';
  out.note(`hoist: ${clean(error.message)}${hint}`);
  if (out.json) out.data({ error: error.message, code: (error.details?.code as string | undefined) ?? error.code, ...(error.details?.details !== undefined ? { details: error.details.details } : {}) });
  return code;
}
