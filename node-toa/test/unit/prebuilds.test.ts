// The prebuilt addons the package ships (built by scripts/build.mjs through
// scripts/prebuilds.mjs): one per architecture and C library, named as
// node-gyp-build looks them up, each ELF read back for its architecture, the
// C library it links and the newest glibc symbol version it needs.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
// @ts-ignore: a plain .mjs build script, without types
import { checkElf, prebuildPath, readElf, TARGETS } from '../../scripts/prebuilds.mjs';

interface Target { arch: string; libc: string; machine: string; needed: string[]; maxGlibc: string | null }
const pkg = join(__dirname, '../..');
const targets = TARGETS as Target[];

test('prebuilds/ holds exactly linux-x64 and linux-arm64, glibc and musl', () => {
  const files = readdirSync(join(pkg, 'prebuilds')).flatMap((d) => readdirSync(join(pkg, 'prebuilds', d)).map((f) => `prebuilds/${d}/${f}`));
  expect(files.sort()).toEqual([
    'prebuilds/linux-arm64/node.napi.glibc.node',
    'prebuilds/linux-arm64/node.napi.musl.node',
    'prebuilds/linux-x64/node.napi.glibc.node',
    'prebuilds/linux-x64/node.napi.musl.node',
  ]);
});

describe.each(targets)('linux-$arch $libc', (t) => {
  const file = join(pkg, prebuildPath(t));

  test('the ELF is for that architecture and C library', () => {
    const e = readElf(file);
    expect(e.machine).toContain(t.machine);
    expect(e.needed).toEqual(t.needed); // glibc: libc.so.6; musl: musl's libc.so, or none (bound at load)
  });

  test(t.maxGlibc ? `needs no glibc symbol newer than ${t.maxGlibc}` : 'needs no glibc symbol version at all', () => {
    const e = readElf(file);
    if (t.maxGlibc) {
      expect(e.glibc).not.toBeNull();
      expect(e.glibc!.split('.').map(Number)).toEqual(t.maxGlibc.split('.').map(Number)); // 2.17 exactly: nothing newer
    } else {
      expect(e.glibc).toBeNull();
    }
    expect(checkElf(file, t)).toEqual([]);
  });
});

test('node-gyp-build picks the glibc build on this glibc host', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const gypBuild = require('node-gyp-build') as { resolve(dir: string): string };
  expect(gypBuild.resolve(pkg)).toBe(join(pkg, `prebuilds/linux-${process.arch}/node.napi.glibc.node`));
});

test('a musl host (LIBC=musl, as node-gyp-build detects Alpine) gets the musl build', () => {
  const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
  const r = spawnSync(process.execPath, ['-p', `require('node-gyp-build').resolve(${JSON.stringify(pkg)})`], { encoding: 'utf8', env: { ...process.env, LIBC: 'musl' } });
  expect(r.stdout.trim()).toBe(join(pkg, `prebuilds/linux-${process.arch}/node.napi.musl.node`));
});
