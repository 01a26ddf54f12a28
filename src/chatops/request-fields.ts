/**
 * Bounds of the form fields Slack and Mattermost send. A request that proves who sent it is still only as
 * long as we allow: these sit far above what either platform sends (ids of a few dozen characters), so
 * only a forged or broken request meets them. The command text has its own bound (grammar.ts).
 */
export const CHAT_FIELD_LIMITS = {
  user_id: 100,
  command: 100,
  response_url: 2_048,
  // Slack's own limits for a button's action_id and value.
  action_id: 255,
  value: 2_000,
} as const;

export type ChatField = keyof typeof CHAT_FIELD_LIMITS;

/** The first field over its bound, as a sentence naming the field and the limit. */
export function overLongField(fields: Partial<Record<ChatField, string | null | undefined>>): string | undefined {
  for (const [name, value] of Object.entries(fields) as Array<[ChatField, string | null | undefined]>) {
    const limit = CHAT_FIELD_LIMITS[name];
    if (typeof value === 'string' && value.length > limit) return `${name}: at most ${limit} characters`;
  }
  return undefined;
}
