import type { Context } from 'hono';
import { z } from 'zod';
import { MAX_NAME_LENGTH, MAX_PROMOTION_ID_LENGTH, NAME_PATTERN } from '../domain/names.js';
import { HoistError } from '../errors.js';
import { isValidTag, MAX_TAG_LENGTH, TAG_RULE } from '../kustomize/image-ref.js';
import { issuesText } from './json-body.js';

/**
 * The string fields requests carry, each with its bound. The length is checked first and stops the
 * checks, so a huge value gets one short sentence naming the field and the limit.
 */
const atMost = (limit: number) => ({ message: `at most ${limit} characters`, abort: true });

/** An app or environment name: the config's own shape, so nothing the config could not hold reaches the service. */
export function nameField(what: 'app' | 'environment') {
  return z
    .string()
    .min(1, { message: 'must not be empty', abort: true })
    .max(MAX_NAME_LENGTH, atMost(MAX_NAME_LENGTH))
    .regex(NAME_PATTERN, `must be ${what === 'app' ? 'an app' : 'an environment'} name ([a-z0-9][a-z0-9-]*)`);
}

/** An OCI tag, refused at request time rather than accepted and failed by the worker later. */
export const tagField = z
  .string()
  .max(MAX_TAG_LENGTH, atMost(MAX_TAG_LENGTH))
  .refine(isValidTag, `must be an OCI image tag (${TAG_RULE})`);

/** Query parameters through a schema; an empty value counts as absent (`?env=`), as it always has. */
export function queryOf<T>(c: Context, schema: z.ZodType<T>): T {
  const given = Object.fromEntries(Object.entries(c.req.query()).filter(([, value]) => value !== ''));
  const parsed = schema.safeParse(given);
  if (!parsed.success) throw new HoistError('bad_request', issuesText(parsed.error));
  return parsed.data;
}

/** A promotion id from the path: an unknown one is 404, an over-long one is refused before any look-up. */
export function promotionIdOf(id: string): string {
  if (id.length > MAX_PROMOTION_ID_LENGTH) throw new HoistError('bad_request', `id: at most ${MAX_PROMOTION_ID_LENGTH} characters`);
  return id;
}
