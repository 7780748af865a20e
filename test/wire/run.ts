// Runs the C tools built by test/wire/Makefile (building them first if needed).
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Absolute path of test/wire. */
export const WIRE_DIR = fileURLToPath(new URL('.', import.meta.url));

/** Builds the given test/wire targets (make decides what is stale); throws with make's output on failure. */
export function buildWire(...targets: string[]): void {
  execFileSync('make', ['-s', '--no-print-directory', '-C', WIRE_DIR, ...targets], { stdio: 'pipe' });
}

/**
 * Feeds lines to build/toa-check (or another build of it, e.g. toa-check-bpf);
 * returns its stdout lines, stderr and exit status.
 */
export function runChecker(
  lines: string[],
  args: string[] = [],
  bin = 'toa-check',
): { out: string[]; err: string; status: number | null } {
  const r = spawnSync(`${WIRE_DIR}/build/${bin}`, args, {
    input: lines.length ? `${lines.join('\n')}\n` : '',
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    timeout: 30_000,
  });
  if (r.error) throw r.error;
  return { out: r.stdout.split('\n').filter(Boolean), err: r.stderr, status: r.status };
}
