import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipelineEvent, WEBHOOK_SECRET } from '../../test/helpers/hoist.js';
import { baseEnv, sleep } from './processes.js';

/** The branch head of a bare repo: the loose ref file (cheap to poll), else git's answer. */
export function readHead(bare: string, branch = 'main'): string {
  try {
    return readFileSync(join(bare, 'refs', 'heads', branch), 'utf8').trim();
  } catch {
    return gitOut(bare, 'rev-parse', `refs/heads/${branch}`).trim();
  }
}

export function gitOut(bare: string, ...args: string[]): string {
  return execFileSync('git', ['--git-dir', bare, ...args], { env: baseEnv(), maxBuffer: 64 * 1024 * 1024 }).toString();
}

export function showFile(bare: string, rev: string, path: string): string {
  return gitOut(bare, 'show', `${rev}:${path}`);
}

export function countCommits(bare: string, from: string, to = 'main'): number {
  return Number(gitOut(bare, 'rev-list', '--count', `${from}..${to}`).trim());
}

/** `newTag` per image name in a kustomization text written by Hoist, kustomize or sed. */
export function tagsIn(text: string): Map<string, string> {
  const tags = new Map<string, string>();
  let name: string | undefined;
  for (const line of text.split('\n')) {
    const n = /^\s*-?\s*name:\s*(\S+)\s*$/.exec(line);
    if (n) {
      name = n[1];
      continue;
    }
    const t = /^\s*newTag:\s*"?([^"\s]+)"?\s*$/.exec(line);
    if (t && name) tags.set(name, t[1] as string);
  }
  return tags;
}

/**
 * Polls the bare repo's ref every millisecond until `check(head)` is true for a new head; returns the
 * monotonic time the satisfying head was first seen, or undefined after `timeoutMs`.
 */
export async function waitForHead(
  bare: string,
  previous: string,
  check: (head: string) => boolean,
  timeoutMs: number,
): Promise<{ at: number; head: string } | undefined> {
  const deadline = performance.now() + timeoutMs;
  let seen = previous;
  for (;;) {
    const head = readHead(bare);
    if (head !== seen) {
      const at = performance.now();
      seen = head;
      if (check(head)) return { at, head };
    }
    if (performance.now() > deadline) return undefined;
    await sleep(1);
  }
}

export interface WebhookSender {
  /** Sends one Pipeline Hook; resolves with the status and the monotonic times of send and answer. */
  send(project: string, pipelineId: number): Promise<{ status: number; sentAt: number; answeredAt: number; body: string }>;
}

export function webhookSender(baseUrl: string): WebhookSender {
  return {
    async send(project, pipelineId) {
      const body = JSON.stringify(await pipelineEvent({ project, id: pipelineId }));
      const sentAt = performance.now();
      const res = await fetch(`${baseUrl}/webhooks/gitlab`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'X-Gitlab-Event': 'Pipeline Hook',
          'X-Gitlab-Token': WEBHOOK_SECRET,
          'Idempotency-Key': `bench-${project}-${pipelineId}`,
        },
        body,
      });
      const text = await res.text();
      return { status: res.status, sentAt, answeredAt: performance.now(), body: text };
    },
  };
}
