#!/usr/bin/env node
// Sends the running demo a GitLab Pipeline Hook: GitLab's own documented sample
// (shared fixture, or test/fixtures copy) turned into a successful push pipeline of the demo app.
// Usage: npm run demo:webhook [-- <sha>]    env: HOIST_URL (default http://127.0.0.1:$PORT), HOIST_WEBHOOK_SECRET
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';

// The built-in demo's secrets (src/config/runtime.ts DEMO_SECRETS).
const DEMO_WEBHOOK_SECRET = 'hoist-demo-secret';
const DEMO_API_TOKEN = 'hoist-demo-token';

const base = process.env.HOIST_URL || `http://127.0.0.1:${process.env.PORT || 8080}`;
const secret = process.env.HOIST_WEBHOOK_SECRET || DEMO_WEBHOOK_SECRET;
const sha = process.argv[2] ?? randomBytes(20).toString('hex');

/** Only the demo on this machine has the demo token; naming it to any other Hoist would be a wrong hint. */
function aimedAtDemo() {
  if (secret !== DEMO_WEBHOOK_SECRET) return false;
  if (!process.env.HOIST_URL) return true;
  try {
    return ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(process.env.HOIST_URL).hostname);
  } catch {
    return false;
  }
}

const sample = JSON.parse(await readFile(new URL('../test/fixtures/gitlab/pipeline-event.json', import.meta.url), 'utf8'));
const pipelineId = Math.floor(Date.now() / 1000);
const event = {
  ...sample,
  object_attributes: {
    ...sample.object_attributes,
    id: pipelineId,
    iid: pipelineId % 10000,
    ref: 'main',
    sha,
    before_sha: sha,
    source: 'push',
    status: 'success',
    url: `https://gitlab.example.com/group/web/-/pipelines/${pipelineId}`,
  },
  merge_request: null,
  project: { ...sample.project, name: 'web', path_with_namespace: 'group/web', default_branch: 'main', web_url: 'https://gitlab.example.com/group/web' },
};

const response = await fetch(`${base}/webhooks/gitlab`, {
  method: 'POST',
  headers: {
    'Content-Type': 'application/json',
    'X-Gitlab-Event': 'Pipeline Hook',
    'X-Gitlab-Token': secret,
    'Idempotency-Key': randomUUID(),
    'X-Gitlab-Event-UUID': randomUUID(),
    'User-Agent': 'GitLab/17.1.0-pre',
  },
  body: JSON.stringify(event),
}).catch((error) => {
  console.error(`demo:webhook: cannot reach Hoist at ${base} (${error.cause?.code ?? error.message}); start it with npm start`);
  process.exit(1);
});
const text = await response.text();
let body = text;
try {
  body = JSON.stringify(JSON.parse(text), null, 2);
} catch {
  // Not JSON (a proxy's error page, say): show it as it came.
}
const status = `POST /webhooks/gitlab → ${response.status}`;
if (!response.ok) {
  const why =
    response.status === 401
      ? `Hoist refused the webhook secret: set HOIST_WEBHOOK_SECRET to the gitlab.webhookSecret of the Hoist at ${base}`
      : response.status === 404
        ? `nothing answers /webhooks/gitlab at ${base}: is HOIST_URL the Hoist service?`
        : `Hoist at ${base} did not accept the event`;
  console.error(`${status}\n${body}\ndemo:webhook: ${why}`);
  process.exit(1);
}
console.log(status);
console.log(body);
console.log(
  aimedAtDemo()
    ? `\nNext: curl -H 'Authorization: Bearer ${DEMO_API_TOKEN}' ${base}/api/environments`
    : `\nNext: curl -H 'Authorization: Bearer <api.token>' ${base}/api/environments`,
);
