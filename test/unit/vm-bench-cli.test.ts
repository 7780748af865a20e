/**
 * The VM entry points' arguments (bench.ts, bench-fullnat.ts, run.ts): anything they cannot use is refused with
 * the usage line before a kernel is fetched or a guest booted.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, test } from 'vitest';

const repo = join(import.meta.dirname, '../..');

test.each([
  [['6.2']],
  [['6.1', '0']],
  [['6.1', '3', '4']],
  [['6.1', '--against']],
  [['6.1', '--against', '--realtime']],
  [['6.1', '--cpus']],
  [['6.1', '--cpus', '0']],
  [['6.1', '--cpus', '9']],
  [['6.1', '--realtime', '--cpus', 'two']],
  [['6.1', '--realtime', '--cpus', '0']],
  // The instruction clock runs one vCPU: more needs --realtime.
  [['6.1', '--cpus', '2']],
])('bench.ts %j: usage, exit 2', (args) => {
  const r = spawnSync(join(repo, 'node_modules/.bin/tsx'), ['test/vm/bench.ts', ...args], { cwd: repo, encoding: 'utf8', timeout: 60_000 });
  expect(r.stderr).toContain('usage: tsx test/vm/bench.ts [6.1|6.12] [rounds] [--against REV] [--realtime [--cpus 1-8]]');
  expect(r.status).toBe(2);
});

test.each([[['6.2']], [['6.12', '0']], [['6.12', 'two']], [['6.12', '3', '4']]])('bench-fullnat.ts %j: usage, exit 2', (args) => {
  const r = spawnSync(join(repo, 'node_modules/.bin/tsx'), ['test/vm/bench-fullnat.ts', ...args], { cwd: repo, encoding: 'utf8', timeout: 60_000 });
  expect(r.stderr).toContain('usage: tsx test/vm/bench-fullnat.ts [6.1|6.12] [rounds]');
  expect(r.status).toBe(2);
});

test.each([[['6.2', 'x.sh']], [['6.1']], [['6.1', 'x.sh', '--cpus']], [['6.1', 'x.sh', '--icount', 'more']]])('run.ts %j: usage, exit 2', (args) => {
  const r = spawnSync(join(repo, 'node_modules/.bin/tsx'), ['test/vm/run.ts', ...args], { cwd: repo, encoding: 'utf8', timeout: 60_000 });
  expect(r.stderr).toContain('usage: tsx test/vm/run.ts 6.1|6.12 SCRIPT.sh [--icount]');
  expect(r.status).toBe(2);
});
