#!/usr/bin/env node
// One step that `npm run demo`, `npm test` and `npm run bench` all go through:
// install what is missing, mount bpffs, build what is stale. Quick and silent
// when there is nothing to do. Plain JavaScript because it runs before the
// TypeScript toolchain is installed.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const isRoot = process.getuid?.() === 0;

function say(msg) {
  process.stderr.write(`bootstrap: ${msg}\n`);
}

function fail(msg) {
  say(`error: ${msg}`);
  process.exit(1);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
  if (r.error) fail(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} exited with ${r.status}`);
}

function debianPackages() {
  const wanted = readFileSync(join(root, 'scripts/debian-packages.txt'), 'utf8')
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean);
  const q = spawnSync('dpkg-query', ['-W', '-f=${Package} ${db:Status-Status}\n', ...wanted], { encoding: 'utf8' });
  const installed = new Set(
    (q.stdout ?? '').split('\n').filter((l) => l.endsWith(' installed')).map((l) => l.split(' ')[0]),
  );
  const missing = wanted.filter((p) => !installed.has(p));
  if (missing.length === 0) return;
  if (!isRoot) fail(`Debian packages missing: ${missing.join(' ')}; run as root, or: apt-get install ${missing.join(' ')}`);
  say(`installing Debian packages the build and tests need: ${missing.join(' ')}`);
  run('apt-get', ['update', '-qq']);
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

function npmModules() {
  const marker = join(root, 'node_modules/.package-lock.json');
  const newest = ['package.json', 'node-toa/package.json']
    .map((f) => join(root, f))
    .filter(existsSync)
    .reduce((m, f) => Math.max(m, statSync(f).mtimeMs), 0);
  if (existsSync(marker) && statSync(marker).mtimeMs >= newest) return;
  say('installing npm modules (npm install)');
  run('npm', ['install', '--no-audit', '--no-fund']);
}

function bpffs() {
  // Tools need bpffs for pinning; mounting it needs root, and only the standard place is ours to mount.
  if (!existsSync('/sys/fs/bpf')) return;
  const mounts = readFileSync('/proc/self/mounts', 'utf8');
  if (mounts.split('\n').some((l) => l.split(' ')[1] === '/sys/fs/bpf' && l.split(' ')[2] === 'bpf')) return;
  if (!isRoot) {
    say('bpffs is not mounted at /sys/fs/bpf; the eBPF parts need root to mount it');
    return;
  }
  say('mounting bpffs at /sys/fs/bpf (pinned TOA state lives there)');
  execFileSync('mount', ['-t', 'bpf', 'bpf', '/sys/fs/bpf']);
}

function builds() {
  // make knows what is stale; quiet when nothing is.
  for (const dir of ['bpf', 'test/wire', 'test/tools', 'test/bench']) {
    if (existsSync(join(root, dir, 'Makefile'))) run('make', ['-s', '--no-print-directory', '-C', dir]);
  }
  run('npm', ['run', '--silent', '--workspaces', '--if-present', 'build']);
}

debianPackages();
npmModules();
bpffs();
builds();
