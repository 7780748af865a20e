// libFuzzer on include/toa/toa_wire.h (test/wire/toa-fuzz.c): a bounded run
// seeded from the vectors must find nothing, and builds with a planted bug
// must be caught, so a quiet run means something.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acceptOf, hexBytes, loadVectors, maskOf } from '../vectors/vectors.js';
import { WIRE_DIR, buildWire } from '../wire/run.js';

const FUZZ_SECONDS = Number(process.env.TOA_FUZZ_SECONDS ?? 20);

let work = '';
let seeds = '';

/** Runs a fuzz binary; returns exit status and stderr. */
function fuzz(bin: string, args: string[], timeoutMs: number) {
  const artifacts = mkdtempSync(join(work, 'artifacts-'));
  const r = spawnSync(join(WIRE_DIR, 'build', bin), [`-artifact_prefix=${artifacts}/`, '-max_len=48', '-timeout=5', ...args], {
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 64 << 20,
  });
  if (r.error) throw r.error;
  return { status: r.status, signal: r.signal, err: r.stderr, findings: readdirSync(artifacts) };
}

beforeAll(() => {
  buildWire('build/toa-fuzz', 'build/toa-fuzz-plant1', 'build/toa-fuzz-plant2');
  work = mkdtempSync(join(tmpdir(), `toa-wire-fuzz-${process.pid}-`));
  seeds = join(work, 'seeds');
  mkdirSync(seeds);
  const v = loadVectors();
  v.parse.forEach((c, i) => {
    const bytes = hexBytes(c.hex);
    writeFileSync(join(seeds, `v${i}`), Uint8Array.from([maskOf(v, acceptOf(v, c)), ...bytes]));
  });
}, 120_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('fuzzing toa_parse / toa_encode', () => {
  it(`finds nothing in ${FUZZ_SECONDS} s (invariants, reference parser, ASan, UBSan)`, () => {
    const corpus = mkdtempSync(join(work, 'corpus-'));
    const r = fuzz(
      'toa-fuzz',
      [`-max_total_time=${FUZZ_SECONDS}`, '-print_final_stats=1', `-dict=${join(WIRE_DIR, 'toa.dict')}`, corpus, seeds],
      (FUZZ_SECONDS + 60) * 1000,
    );
    expect(r.findings, r.err.slice(-4000)).toEqual([]);
    expect(r.status, r.err.slice(-4000)).toBe(0);
    const runs = Number(/stat::number_of_executed_units:\s*(\d+)/.exec(r.err)?.[1] ?? 0);
    // Far below what one core does (~400k/s): only proves the run was real.
    expect(runs).toBeGreaterThan(FUZZ_SECONDS * 10_000);
    process.stderr.write(`wire-fuzz: ${runs} inputs in ${FUZZ_SECONDS} s, no finding\n`);
  }, (FUZZ_SECONDS + 90) * 1000);

  it('catches a parser that reads one byte past the options (ASan)', () => {
    const r = fuzz('toa-fuzz-plant1', ['-runs=1000', seeds], 60_000);
    expect(r.status).not.toBe(0);
    expect(r.err).toMatch(/heap-buffer-overflow/);
    expect(r.findings.some((f) => f.startsWith('crash-'))).toBe(true);
  }, 90_000);

  it('catches a parser that disagrees with the reference (multiple TOA options)', () => {
    const r = fuzz('toa-fuzz-plant2', ['-runs=1000', seeds], 60_000);
    expect(r.status).not.toBe(0);
    expect(r.err).toMatch(/deadly signal/);
    expect(r.findings.some((f) => f.startsWith('crash-'))).toBe(true);
  }, 90_000);
});
