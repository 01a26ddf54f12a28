import { createRequire } from 'node:module';
import { pino, type Logger, type LoggerOptions } from 'pino';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface LoggerSetup {
  level: LogLevel;
  /** Pretty lines for a person at a terminal; JSON for everything else. */
  pretty: boolean;
  destination?: NodeJS.WritableStream;
}

/** Headers and fields that may carry secrets; pino replaces them before anything is written. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-gitlab-token"]',
  'headers.authorization',
  'headers["x-gitlab-token"]',
  'token',
  'password',
  'secret',
  '*.token',
  '*.password',
  '*.secret',
  '*.signingSecret',
  '*.webhookSecret',
  '*.signingToken',
  '*.webhookToken',
];

function prettyAvailable(): boolean {
  try {
    createRequire(import.meta.url).resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}

export function createLogger(setup: LoggerSetup): Logger {
  const options: LoggerOptions = { level: setup.level, base: { service: 'hoist' }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  if (setup.destination) return pino(options, setup.destination as pino.DestinationStream);
  if (setup.pretty && prettyAvailable()) {
    return pino({ ...options, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' } } });
  }
  return pino(options);
}
