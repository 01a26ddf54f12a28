import { z } from 'zod';
import { MAX_NAME_LENGTH, NAME_PATTERN } from '../domain/names.js';
import { isValidTag, MAX_TAG_LENGTH, TAG_RULE } from '../kustomize/image-ref.js';

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
