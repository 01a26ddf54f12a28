// How long child_process.spawn() blocks the event loop of a node process holding `argv[2]` MiB of
// touched memory: on Linux libuv forks the whole process, so the cost grows with its resident memory.
// Prints {"rssMiB","p50Ms","maxMs"} over 40 spawns of `git --version`.
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';

const ballast = [];
for (let i = 0; i < Number(process.argv[2] ?? 0); i++) ballast.push(Buffer.alloc(1024 * 1024, 1));
const times = [];
for (let i = 0; i < 40; i++) {
  const started = performance.now();
  const child = spawn('git', ['--version'], { stdio: ['ignore', 'pipe', 'pipe'] });
  times.push(performance.now() - started);
  child.stdout.resume();
  child.stderr.resume();
  await new Promise((resolve) => child.once('close', resolve));
}
times.sort((a, b) => a - b);
const round = (x) => Math.round(x * 100) / 100;
console.log(JSON.stringify({ rssMiB: Math.round(process.memoryUsage().rss / 1048576), p50Ms: round(times[20]), maxMs: round(times[39]), ballast: ballast.length }));
