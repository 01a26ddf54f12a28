#!/usr/bin/env node
// Sends the running demo a GitLab Pipeline Hook: GitLab's own documented sample
// (shared fixture, or test/fixtures copy) turned into a successful push pipeline of the demo app.
// Usage: npm run demo:webhook [-- <sha>]    env: HOIST_URL (default http://127.0.0.1:$PORT), HOIST_WEBHOOK_SECRET
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';

const base = process.env.HOIST_URL ?? `http://127.0.0.1:${process.env.PORT ?? 8080}`;
const secret = process.env.HOIST_WEBHOOK_SECRET ?? 'hoist-demo-secret';
const sha = process.argv[2] ?? randomBytes(20).toString('hex');

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
console.log(`POST /webhooks/gitlab → ${response.status}`);
console.log(JSON.stringify(await response.json(), null, 2));
console.log(`\nNext: curl -H 'Authorization: Bearer hoist-demo-token' ${base}/api/environments`);
