// include/toa/toa_wire.h and toa_record.h build cleanly in all three worlds
// (gcc and g++ for userspace and the addon, clang -target bpf) and the BPF
// build passes this kernel's verifier with lengths, masks and dialects it
// cannot know (test/wire/header-check*.c).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WIRE_DIR, buildWire } from '../wire/run.js';

let out = '';

beforeAll(() => {
  out = mkdtempSync(join(tmpdir(), `toa-wire-header-${process.pid}-`));
});

afterAll(() => {
  if (out) rmSync(out, { recursive: true, force: true });
});

/** Builds one header-check object from scratch into a fresh folder; returns the compiler's complaints if any. */
function compile(target: string): { ok: boolean; output: string } {
  const r = spawnSync('make', ['-s', '--no-print-directory', '-C', WIRE_DIR, `OUTPUT=${out}`, `${out}/${target}`], { encoding: 'utf8' });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

describe('the wire headers compile with warnings as errors', () => {
  it.each([
    ['C (gcc -Wall -Wextra -Werror)', 'header-check.c.o'],
    ['C++ (g++ -Wall -Wextra -Werror)', 'header-check.cxx.o'],
    ['BPF (clang -target bpf -O2 -Wall -Werror)', 'header-check.bpf.o'],
  ])('%s', (_n, target) => {
    const r = compile(target);
    expect(r.output).not.toMatch(/warning|error/i);
    expect(r.ok).toBe(true);
  }, 60_000);

  it('a warning would fail the build (the flags are really -Werror)', () => {
    const r = spawnSync('gcc', ['-Wall', '-Wextra', '-Werror', '-x', 'c', '-c', '-o', join(out, 'w.o'), '-'], {
      input: 'int f(int a) { int unused; return a; }\n',
      encoding: 'utf8',
    });
    expect(r.status).not.toBe(0);
  });
});

describe('the BPF build of the parser and encoder', () => {
  const root = process.getuid?.() === 0;

  (root ? it : it.skip)('passes the verifier of the running kernel (needs root: skipped otherwise; CI runs as root)', () => {
    buildWire('build/verify-load');
    expect(compile('header-check.bpf.o').ok).toBe(true);
    const r = spawnSync(join(WIRE_DIR, 'build/verify-load'), [join(out, 'header-check.bpf.o')], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const progs = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { program: string; loaded: boolean; insns: number });
    expect(progs.map((p) => [p.program, p.loaded])).toEqual([
      ['toa_header_check', true],
      ['toa_vector', true],
    ]);
    const kernel = execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim();
    for (const p of progs) {
      // Well inside the 1M budget, so callers have room for their own code.
      expect(p.insns).toBeGreaterThan(0);
      expect(p.insns).toBeLessThan(200_000);
      process.stderr.write(`wire-header: verifier on ${kernel} processed ${p.insns} instructions for ${p.program}\n`);
    }
  }, 60_000);
});

describe("the parser's BPF state goes only where it is asked for (TOA_BPF_PARSER)", () => {
  const symbols = (obj: string): string[] =>
    execFileSync('readelf', ['-sW', join(WIRE_DIR, '../..', obj)], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.trim().split(/\s+/)[7] ?? '')
      .filter((s) => s.startsWith('toa_parse'));

  it('the director, which only encodes, carries neither the map nor the step function', () => {
    expect(symbols('bpf/build/director.bpf.o')).toEqual([]);
  });

  it('the real server, which parses, carries both', () => {
    expect(symbols('bpf/build/realserver.bpf.o').sort()).toEqual(['toa_parse_state', 'toa_parse_step']);
  });
});
