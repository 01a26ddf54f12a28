import { expect } from 'vitest';

export interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/** The JSON answer of a request, failing the test when it is not JSON. */
export async function answerOf(res: Response): Promise<Answer> {
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`answer ${res.status} is not JSON: ${text.slice(0, 200)}`);
  }
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return { status: res.status, body: body as Record<string, unknown> };
}

/** An error answer in Hoist's one shape, `{error, code}`, with this status, code and message. */
export function expectError(answer: Answer, status: number, code: string, message: RegExp | string): void {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  expect(answer.body).toMatchObject({ code, error: expect.any(String) });
  if (typeof message === 'string') expect(answer.body.error).toBe(message);
  else expect(answer.body.error).toMatch(message);
}
