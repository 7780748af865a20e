// The published package: `npm pack`, then install the tarball into an empty
// project the way users do (dependencies from the registry, the cache first,
// the network when the cache lacks them: a fresh machine's cache is empty),
// with and without install scripts, with no compiler on PATH. It must load
// the shipped prebuild and work from CommonJS and ESM.
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
// @ts-ignore: a plain .mjs build script, without types
import { checkElf, prebuildPath, TARGETS } from '../../scripts/prebuilds.mjs';

const pkgDir = join(__dirname, '../..');
let work: string;
let tarball: string;
let npmCli: string;

function run(cmd: string, args: string[], opts: SpawnSyncOptions = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 300_000, ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}:\n${r.stderr}\n${r.stdout}`);
  return String(r.stdout);
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'toa-pack-'));
  npmCli = join(run('npm', ['root', '-g']).trim(), 'npm/bin/npm-cli.js');
  const out = run('npm', ['pack', '--json', '--pack-destination', work], { cwd: pkgDir });
  tarball = join(work, JSON.parse(out.slice(out.indexOf('[')))[0].filename);
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

test('the tarball holds the prebuilds, both builds, types, the addon source and the licence, and nothing else', () => {
  const files = run('tar', ['tzf', tarball]).split('\n').filter(Boolean).map((f) => f.replace(/^package\//, ''));
  for (const f of [
    'package.json', 'README.md', 'LICENSE', 'binding.gyp', 'src/native/addon.c', 'src/native/lookup.c', 'src/native/lookup.h',
    'dist/cjs/index.js', 'dist/cjs/index.d.ts', 'dist/cjs/fastify-request.d.ts', 'dist/esm/index.mjs',
    ...TARGETS.map((t: object) => prebuildPath(t)),
  ]) {
    expect(files).toContain(f);
  }
  expect(files.filter((f) => !/^(dist\/|prebuilds\/|src\/native\/)/.test(f)).sort()).toEqual(['LICENSE', 'README.md', 'binding.gyp', 'package.json']);
  expect(files.filter((f) => /\.ts$/.test(f) && !f.endsWith('.d.ts'))).toEqual([]);
});

test('every prebuild in the tarball: its architecture, its C library, glibc 2.17 at most', () => {
  const dir = join(work, 'unpacked');
  mkdirSync(dir);
  run('tar', ['xzf', tarball, '-C', dir]);
  for (const t of TARGETS) expect(checkElf(join(dir, 'package', prebuildPath(t)), t)).toEqual([]);
});

test('package.json: a licence, no "os" limit (other systems install it and get the socket backend), optional peers only', () => {
  const pj = JSON.parse(run('tar', ['xzfO', tarball, 'package/package.json']));
  expect(pj).toMatchObject({ name: 'node-toa', license: 'MIT', dependencies: { 'node-gyp-build': expect.any(String) } });
  expect(pj.os).toBeUndefined();
  expect(pj.cpu).toBeUndefined();
  expect(Object.keys(pj.dependencies)).toEqual(['node-gyp-build']);
  expect(pj.optionalDependencies).toBeUndefined();
  expect(pj.peerDependenciesMeta).toEqual({ fastify: { optional: true }, 'ffi-rs': { optional: true } });
});

describe.each([
  ['with install scripts', [] as string[]],
  ['with --ignore-scripts', ['--ignore-scripts']],
])('installed from the tarball %s, no compiler on PATH', (_name, flags) => {
  let project: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(() => {
    project = join(work, `app${flags.length}`);
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
    // PATH holds node and sh (npm runs scripts through sh) alone: any attempt to compile would fail.
    const bin = join(project, '.bin-node-only');
    mkdirSync(bin);
    symlinkSync(process.execPath, join(bin, 'node'));
    symlinkSync('/bin/sh', join(bin, 'sh'));
    env = { ...process.env, PATH: bin, CC: '/nonexistent', CXX: '/nonexistent', TOA_BACKEND: '' };
    run(process.execPath, [npmCli, 'install', '--prefer-offline', '--no-audit', '--no-fund', ...flags, tarball], { cwd: project, env });
  });

  test('nothing was compiled, and only node-toa and node-gyp-build were installed', () => {
    expect(existsSync(join(project, 'node_modules/node-toa/build'))).toBe(false);
    expect(readdirSync(join(project, 'node_modules')).filter((f) => !f.startsWith('.')).sort()).toEqual(['node-gyp-build', 'node-toa']);
  });

  test('require(): the native backend, from the shipped prebuild; peer() works', () => {
    const script = `
      const net = require('node:net'); const toa = require('node-toa');
      const srv = net.createServer((s) => { console.log(JSON.stringify({ backend: toa.backend, peer: toa.peer(s) })); s.destroy(); srv.close(); c.destroy(); });
      let c; srv.listen(0, '127.0.0.1', () => { c = net.connect(srv.address().port, '127.0.0.1'); c.on('error', () => {}); });`;
    const got = JSON.parse(run(process.execPath, ['-e', script], { cwd: project, env }));
    expect(got.backend.name).toBe('native');
    expect(got.backend.reason).toMatch(/node_modules\/node-toa\/prebuilds\/linux-x64\/node\.napi\.glibc\.node/);
    expect(got.peer).toMatchObject({ address: '127.0.0.1', family: 4, via: 'socket' });
  });

  test('import and require() give one object: the default export, named exports = its members', () => {
    const script = `
      import * as ns from 'node-toa';
      import toa from 'node-toa';
      import { createRequire } from 'node:module';
      const cjs = createRequire(import.meta.url)('node-toa');
      const named = Object.keys(ns).filter((k) => k !== 'default').sort();
      console.log(JSON.stringify({ same: toa === cjs && cjs.default === cjs, named, keys: Object.keys(cjs).filter((k) => k !== 'default').sort(),
        members: named.every((k) => ns[k] === cjs[k]), pinDir: toa.pinDir, create: typeof toa.create, err: new toa.ToaError('TOA_EINVAL', 'x').code }));`;
    const got = JSON.parse(run(process.execPath, ['--input-type=module', '-e', script], { cwd: project, env }));
    expect(got.same).toBe(true);
    expect(got.named).toEqual(got.keys);
    expect(got.named).toEqual(['ToaError', 'backend', 'create', 'express', 'fastify', 'getpeername', 'install', 'koa', 'peer', 'pinDir', 'record', 'reset']);
    expect(got).toMatchObject({ members: true, pinDir: '/sys/fs/bpf/toa', create: 'function', err: 'TOA_EINVAL' });
  });

  test('TOA_BACKEND=ffi: refused with the reason until ffi-rs is installed, then works', () => {
    const ffi = ['-e', "const t = require('node-toa'); console.log(t.backend.name)"];
    const r = spawnSync(process.execPath, ffi, { cwd: project, env: { ...env, TOA_BACKEND: 'ffi' }, encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/TOA_BACKEND asks for the ffi backend, which cannot load: Cannot find module 'ffi-rs'/);
    run(process.execPath, [npmCli, 'install', '--prefer-offline', '--no-audit', '--no-fund', ...flags, 'ffi-rs@^1.3.7'], { cwd: project, env });
    expect(run(process.execPath, ffi, { cwd: project, env: { ...env, TOA_BACKEND: 'ffi' } }).trim()).toBe('ffi');
  });
});
