#!/usr/bin/env node
// Holds N open `GET /api/events` streams, as N open boards would, in a process of its own, so that reading
// them does not delay the bench's load generator. Prints `open` once every stream answered 200; on stdin's end
// prints the number of promotion events received over all streams and exits.
// Usage: node event-stream-readers.mjs <base url> <bearer token> <streams> [summary]
// With `summary`, the streams are opened as the board's tabs open them (`?summary=true`) and `changed` frames count.
import { request } from 'node:http';

const [base, token, count, mode] = process.argv.slice(2);
const target = new URL(mode === 'summary' ? '/api/events?summary=true' : '/api/events', base);
const marker = Buffer.from(mode === 'summary' ? 'event: changed\n' : 'event: promotion\n');
let delivered = 0;
const streams = [];

function count_(chunk, carry) {
  // The marker may straddle two chunks: search the tail of the previous one too.
  const data = carry.length ? Buffer.concat([carry, chunk]) : chunk;
  let at = data.indexOf(marker);
  while (at >= 0) {
    delivered++;
    at = data.indexOf(marker, at + marker.length);
  }
  return data.subarray(Math.max(0, data.length - marker.length + 1));
}

await Promise.all(
  Array.from({ length: Number(count) }, () =>
    new Promise((resolve, reject) => {
      const req = request(target, { headers: { Authorization: `Bearer ${token}`, Accept: 'text/event-stream' } }, (res) => {
        if (res.statusCode !== 200) return reject(new Error(`GET /api/events: ${res.statusCode}`));
        let carry = Buffer.alloc(0);
        res.on('data', (chunk) => (carry = count_(chunk, carry)));
        resolve();
      });
      req.on('error', () => undefined);
      req.end();
      streams.push(req);
    }),
  ),
);
process.stdout.write('open\n');
process.stdin.resume();
process.stdin.on('end', () => {
  for (const req of streams) req.destroy();
  process.stdout.write(`${delivered}\n`);
  process.exit(0);
});
