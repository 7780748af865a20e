// The prebuilt addons node-toa ships, one per architecture and C library,
// named as node-gyp-build looks them up:
//   prebuilds/linux-x64/node.napi.glibc.node    gcc, glibc >= 2.17
//   prebuilds/linux-x64/node.napi.musl.node     musl-gcc (musl-tools)
//   prebuilds/linux-arm64/node.napi.glibc.node  aarch64-linux-gnu-gcc, glibc >= 2.17
//   prebuilds/linux-arm64/node.napi.musl.node   aarch64-linux-gnu-gcc, linked against no libc
// The addon is C and calls only functions every libc has with one ABI, so
// the arm64 musl build binds them to whichever libc the process loaded.
// Each ELF is checked after the build: architecture, C library, and the
// newest glibc symbol version it needs (checkElf, also run by the tests).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** What a prebuild must be. */
export const TARGETS = [
  { arch: 'x64', libc: 'glibc', cc: 'gcc', machine: 'X86-64', needed: ['libc.so.6'], maxGlibc: '2.17' },
  { arch: 'x64', libc: 'musl', cc: 'musl-gcc', machine: 'X86-64', needed: ['libc.so'], maxGlibc: null },
  { arch: 'arm64', libc: 'glibc', cc: 'aarch64-linux-gnu-gcc', machine: 'AArch64', needed: ['libc.so.6'], maxGlibc: '2.17' },
  { arch: 'arm64', libc: 'musl', cc: 'aarch64-linux-gnu-gcc', machine: 'AArch64', needed: [], maxGlibc: null },
];

export const prebuildPath = (t) => `prebuilds/linux-${t.arch}/node.napi.${t.libc}.node`;

const SOURCES = ['src/native/addon.c', 'src/native/lookup.c'];

function versionKey(v) {
  return v.split('.').map((n) => n.padStart(4, '0')).join('.');
}

/** Reads an ELF with readelf: { machine, needed: [...], glibc: newest GLIBC_x.y needed or null }. */
export function readElf(file) {
  const header = execFileSync('readelf', ['-h', file], { encoding: 'utf8' });
  const machine = /Machine:\s+(.*)/.exec(header)?.[1].trim() ?? '';
  const dynamic = execFileSync('readelf', ['-d', file], { encoding: 'utf8' });
  const needed = [...dynamic.matchAll(/\(NEEDED\)\s+Shared library: \[(.*)\]/g)].map((m) => m[1]);
  const versions = execFileSync('readelf', ['-V', file], { encoding: 'utf8' });
  const glibc = [...versions.matchAll(/Name: GLIBC_([0-9.]+)/g)].map((m) => m[1]).sort((a, b) => versionKey(a).localeCompare(versionKey(b)));
  return { machine, needed, glibc: glibc.at(-1) ?? null };
}

/** Problems with a built prebuild, as sentences ([] when it is what the target says). */
export function checkElf(file, t) {
  const e = readElf(file);
  const problems = [];
  if (!e.machine.includes(t.machine)) problems.push(`${file}: machine ${e.machine}, want ${t.machine}`);
  if (JSON.stringify(e.needed) !== JSON.stringify(t.needed)) problems.push(`${file}: needs ${JSON.stringify(e.needed)}, want ${JSON.stringify(t.needed)}`);
  if (t.maxGlibc === null && e.glibc) problems.push(`${file}: a ${t.libc} build needs GLIBC_${e.glibc}`);
  if (t.maxGlibc && e.glibc && versionKey(e.glibc) > versionKey(t.maxGlibc)) problems.push(`${file}: needs GLIBC_${e.glibc}, newer than ${t.maxGlibc}`);
  return problems;
}

/** Builds every target into pkg/prebuilds; throws with the compiler's output or the check's findings. */
export function buildPrebuilds(pkg) {
  const nodeInclude = join(dirname(dirname(process.execPath)), 'include/node');
  const tmp = mkdtempSync(join(tmpdir(), 'node-toa-prebuild-'));
  try {
    // musl-gcc sees only musl's headers: lend it the kernel's (linux/, asm/, asm-generic/).
    const kernel = join(tmp, 'kernel-headers');
    mkdirSync(kernel);
    for (const [name, from] of [['linux', '/usr/include/linux'], ['asm-generic', '/usr/include/asm-generic'], ['asm', '/usr/include/x86_64-linux-gnu/asm']]) {
      symlinkSync(from, join(kernel, name));
    }
    for (const t of TARGETS) {
      const out = join(pkg, prebuildPath(t));
      mkdirSync(dirname(out), { recursive: true });
      const flags = [
        '-shared', '-fPIC', '-O2', '-std=gnu11', '-Wall', '-Wextra', '-Werror',
        '-fno-stack-protector', '-U_FORTIFY_SOURCE', '-D_FORTIFY_SOURCE=0',
        '-fvisibility=hidden', '-s',
        `-I${nodeInclude}`,
      ];
      if (t.cc === 'musl-gcc') flags.push(`-isystem`, kernel);
      if (t.libc === 'glibc') flags.push('-include', join(pkg, 'src/native/glibc-2.17.h'));
      if (t.libc === 'musl' && t.cc !== 'musl-gcc') flags.push('-nostdlib'); // no libc to link: bind at load
      const r = spawnSync(t.cc, [...flags, ...SOURCES.map((s) => join(pkg, s)), '-o', out], { encoding: 'utf8' });
      if (r.error) throw new Error(`${t.cc} for linux-${t.arch} ${t.libc}: ${r.error.message} (install it: see scripts/debian-packages.txt)`);
      if (r.status !== 0) throw new Error(`${t.cc} for linux-${t.arch} ${t.libc} failed:\n${r.stderr}`);
      const problems = checkElf(out, t);
      if (problems.length) throw new Error(problems.join('\n'));
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
