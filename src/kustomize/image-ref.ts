import { parse } from 'yaml';

// OCI distribution spec: a tag is at most 128 characters and cannot start with '.' or '-'.
// The one definition of a tag: the API, chat, deploy reports and tag templates all check with isValidTag.
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
export const MAX_TAG_LENGTH = 128;
/** The rule in words, for refusals. */
export const TAG_RULE = '[A-Za-z0-9_][A-Za-z0-9._-]{0,127}';
// OCI image spec digest grammar, with a floor on the encoded length so truncated digests are caught early.
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
// Registered algorithms have a fixed encoding; kustomize would render anything else and the pull would fail.
const REGISTERED_DIGESTS: Readonly<Record<string, RegExp>> = {
  sha256: /^[a-f0-9]{64}$/,
  sha512: /^[a-f0-9]{128}$/,
};
// An image name as written in `images[].name`: registry host (optionally with port) and path, no tag, no spaces,
// nothing YAML gives a meaning to ('#', ': ', quotes, brackets), since new entries write the name into the file.
const IMAGE_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._/-]|:(?=[0-9A-Za-z]))*$/;

export function isValidTag(tag: string): boolean {
  return TAG.test(tag);
}

export function isValidDigest(digest: string): boolean {
  if (digest.length > 1024 || !DIGEST.test(digest)) return false;
  const colon = digest.indexOf(':');
  const encoding = REGISTERED_DIGESTS[digest.slice(0, colon)];
  return encoding === undefined || encoding.test(digest.slice(colon + 1));
}

export function isValidImageName(name: string): boolean {
  return name.length <= 512 && IMAGE_NAME.test(name) && !name.endsWith('/');
}

/**
 * Whether `text` reads back as the same string when written as a plain scalar, in YAML 1.2 (the yaml package)
 * and in YAML 1.1 (kustomize's go-yaml heritage), where `yes`, `on`, `1.10`, `012`, `1:20` are not strings.
 */
export function isPlainSafe(text: string): boolean {
  if (text === '') return false;
  try {
    return [parse(text), parse(text, { version: '1.1' })].every((value) => value === text);
  } catch {
    return false;
  }
}
