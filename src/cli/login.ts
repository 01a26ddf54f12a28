import { HoistError } from '../errors.js';
import { createHoistClient } from './client.js';
import type { CommandContext } from './context.js';
import { isPlainHttpOffHost, normalizeUrl, readSavedLogin, saveLogin } from './credentials.js';
import type { CliStreams } from './output.js';

export interface LoginOptions {
  url?: string | undefined;
  token?: string | undefined;
  json?: boolean | undefined;
}

/** Tokens are one line; a pasted book is a mistake, not a token. */
const MAX_TOKEN_LENGTH = 4_096;

/**
 * `hoist login`: checks the token with GET /api/me, then saves the URL and token for the commands that follow.
 * Without --token the token comes from stdin: typed (hidden) on a terminal, or piped (`… | hoist login`).
 */
export async function login(ctx: CommandContext, options: LoginOptions): Promise<number> {
  const out = ctx.output(options);
  const file = ctx.env.configFile;
  if (file === undefined) throw new HoistError('config_invalid', 'cannot tell where to save the login: set HOME (or XDG_CONFIG_HOME)');
  const saved = await readSavedLogin(file).catch(() => undefined);
  const given = options.url ?? ctx.env.url ?? saved?.url;
  if (given === undefined) throw new HoistError('config_invalid', "which Hoist? give its URL: hoist login --url https://hoist.example.com");
  const url = normalizeUrl(given);
  if (isPlainHttpOffHost(url)) out.note(`hoist: warning: ${url} is plain http: the token crosses the network unencrypted`);
  const token = (options.token ?? (await readToken(ctx.streams, `Paste the token from ${url}/tokens: `))).trim();
  if (token === '') throw new HoistError('config_invalid', `no token given: create one at ${url}/tokens, then pass it with --token or on stdin`);
  if (token.length > MAX_TOKEN_LENGTH || /\s/.test(token)) throw new HoistError('config_invalid', 'that is not a token: one line, no spaces');

  const me = await createHoistClient({ url, token }).me().catch((error: unknown) => {
    if (error instanceof HoistError && error.code === 'unauthorized') throw new HoistError('unauthorized', `${url} does not accept that token: ${error.message}`, { details: error.details });
    throw error;
  });
  await saveLogin(file, { url, token });
  if (out.json) out.data({ url, user: me.user, groups: me.groups, via: me.via, configFile: file });
  else out.line(`Logged in to ${url} as ${me.user}${me.via === 'robot' ? ' (api.token: the robot user, not a person)' : ''}; saved in ${file}`);
  if (ctx.env.url !== undefined || ctx.env.token !== undefined) {
    out.note(`hoist: note: ${[ctx.env.url !== undefined ? 'HOIST_URL' : '', ctx.env.token !== undefined ? 'HOIST_TOKEN' : ''].filter(Boolean).join(' and ')} set in this shell override the saved login`);
  }
  return 0;
}

/** All of a piped stdin, or one hidden line typed on a terminal. */
async function readToken(streams: CliStreams, prompt: string): Promise<string> {
  const { stdin, stderr } = streams;
  if (stdin.isTTY === true && typeof stdin.setRawMode === 'function') {
    stderr.write(prompt);
    return readHiddenLine(stdin as CliStreams['stdin'] & { setRawMode: (mode: boolean) => unknown }, stderr);
  }
  let text = '';
  for await (const chunk of stdin) {
    text += chunk.toString();
    if (text.length > MAX_TOKEN_LENGTH * 2) break;
  }
  return text;
}

/** The typed characters are not echoed: a token on the screen ends up in screen shares and scrollback. */
function readHiddenLine(stdin: CliStreams['stdin'] & { setRawMode: (mode: boolean) => unknown }, stderr: CliStreams['stderr']): Promise<string> {
  return new Promise((resolve, reject) => {
    let line = '';
    const done = (error?: Error) => {
      stdin.setRawMode(false);
      stdin.removeListener('data', onData);
      stdin.pause();
      stderr.write('\n');
      if (error) reject(error);
      else resolve(line);
    };
    const onData = (chunk: Buffer | string) => {
      for (const char of chunk.toString()) {
        if (char === '\r' || char === '\n') return done();
        if (char === '\u0003') return done(new HoistError('config_invalid', 'login cancelled'));
        if (char === '\u007f' || char === '\b') line = line.slice(0, -1);
        else if (char >= ' ') line += char;
      }
    };
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', onData);
  });
}
