#!/usr/bin/env node
// Start-up figure: runs `npm start` in DIR (default .) and exits as soon as the service logs "hoist is listening",
// killing what it started. Time it from outside: /usr/bin/time -f %e node bench/scripts/start-until-listening.mjs DIR
// (REDIS_URL, PORT and HOIST_DATA_DIR are passed through to the service).
import { spawn } from 'node:child_process';

const child = spawn('npm', ['start'], { cwd: process.argv[2] ?? '.', detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
let output = '';
const collect = (chunk) => {
  output += chunk.toString();
  if (output.includes('hoist is listening')) {
    process.kill(-child.pid, 'SIGKILL');
    process.exit(0);
  }
};
child.stdout.on('data', collect);
child.stderr.on('data', collect);
child.on('exit', (code) => {
  process.stderr.write(output);
  process.exit(code === 0 ? 3 : 2);
});
