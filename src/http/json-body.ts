import type { Context } from 'hono';
import type { z } from 'zod';
import { HoistError } from '../errors.js';

/** Every problem of a failed parse, each naming its field. */
export function issuesText(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');
}

/** Parses and validates a JSON body; every problem names its field. */
export async function jsonBody<T>(c: Context, schema: z.ZodType<T>, expected = 'body must be JSON'): Promise<T> {
  let raw: unknown;
  try {
    raw = await c.req.json();
  } catch {
    throw new HoistError('bad_request', expected);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new HoistError('bad_request', issuesText(parsed.error));
  return parsed.data;
}
