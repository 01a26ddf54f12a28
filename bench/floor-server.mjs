// The intake floor: the least a webhook receiver that stores a job can do. One hono route on
// @hono/node-server that parses the JSON body and adds one BullMQ job (job id from Idempotency-Key)
// to the same Redis, then answers 202. No token check, no schema, no decision, no logging.
// env: PORT, REDIS_URL
import { serve } from '@hono/node-server';
import { Queue } from 'bullmq';
import { Hono } from 'hono';
import { Redis } from 'ioredis';

const connection = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
const queue = new Queue('floor', { connection, prefix: 'floor' });
await queue.waitUntilReady();

const app = new Hono();
app.get('/healthz', (c) => c.text('ok'));
app.post('/webhooks/gitlab', async (c) => {
  const body = await c.req.json();
  const attrs = body.object_attributes ?? {};
  const id = c.req.header('idempotency-key') ?? `${body.project?.path_with_namespace}:${attrs.id}`;
  await queue.add(
    'promote',
    { project: body.project?.path_with_namespace, pipelineId: attrs.id, ref: attrs.ref, sha: attrs.sha, url: attrs.url, createdAt: new Date().toISOString() },
    { jobId: id },
  );
  return c.json({ id }, 202);
});

const server = serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 8090), hostname: '127.0.0.1' });
const stop = () => {
  server.close();
  queue.close().finally(() => connection.quit().finally(() => process.exit(0)));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
