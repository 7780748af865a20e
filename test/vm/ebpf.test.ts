/**
 * The eBPF real-server path on an older kernel: boots Debian's 6.1 in qemu and
 * runs the real-server end-to-end tests (test/e2e/realserver*.test.ts,
 * unchanged) inside it with vitest, then reports each file's outcome here.
 * Their 10,000-connection test is left to the host run: under TCG it needs
 * far longer than the e2e timeout, and the module's VM run covers that size.
 *
 * TOA_VM_EBPF_KERNELS=6.1,6.12 picks the kernels (default 6.1).
 * Entry point for other runs in a guest: runGuest() in ./guest.ts, or
 * `tsx test/vm/run.ts 6.1 script.sh`.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hangReport, removeRun, runGuest, vmUnavailable, type GuestRun } from './guest.js';
import { fetchKernel, repoRoot, type Series } from './kernels.js';

const why = vmUnavailable();
if (why) console.warn(`skipping VM tests: ${why}`);
const SERIES = (process.env.TOA_VM_EBPF_KERNELS ?? '6.1').split(',').filter(Boolean) as Series[];
const FILES = readdirSync(join(repoRoot, 'test/e2e'))
  .filter((f) => /^realserver.*\.test\.ts$/.test(f))
  .map((f) => `test/e2e/${f}`);

interface VitestJson {
  testResults?: { name: string; status: string; message?: string; assertionResults: { fullName: string; status: string; failureMessages: string[] }[] }[];
}

describe.skipIf(why || FILES.length === 0).each(SERIES)('eBPF real-server path on Debian %s', (series) => {
  let run: GuestRun;
  let report: VitestJson = {};

  beforeAll(async () => {
    const kernel = fetchKernel(series);
    run = await runGuest(kernel, {
      script: `node_modules/.bin/vitest run --project e2e ${FILES.join(' ')} -t '^(?!.*10,000 connections)' --reporter=json --outputFile="$RESULTS/vitest.json"`,
      timeoutMs: 1_800_000,
    });
    const file = join(run.resultsDir, 'vitest.json');
    if (existsSync(file)) report = JSON.parse(readFileSync(file, 'utf8'));
    console.log(`eBPF path on ${kernel.release}: guest ran ${run.seconds.toFixed(0)} s`);
  });

  afterAll(() => {
    if (!run) return;
    const ok = run.kernelProblems.length === 0 && report.testResults?.every((r) => r.status === 'passed');
    if (ok) removeRun(run);
    else console.warn(`VM run kept in ${run.resultsDir}`);
  });

  it('the guest runs the tests and powers off in time', () => {
    expect(run.timedOut, hangReport(run)).toBe(false);
    expect(report.testResults, `no vitest report; guest log:\n${guestLog(run).slice(-4000)}`).toBeDefined();
  });

  it.each(FILES)('%s passes in the guest', (file) => {
    const res = report.testResults?.find((r) => r.name.endsWith(file));
    expect(res, `${file} did not run; guest log:\n${guestLog(run).slice(-3000)}`).toBeDefined();
    const failed = res!.assertionResults.filter((a) => a.status === 'failed');
    expect(failed.map((a) => `${a.fullName}: ${a.failureMessages.join('\n').slice(0, 1500)}`), res!.message).toEqual([]);
    expect(res!.assertionResults.filter((a) => a.status === 'passed').length).toBeGreaterThan(0);
  });

  it('the guest kernel log reports no BUG, WARNING or Oops', () => {
    expect(run.kernelProblems, (run.dmesg || run.console).slice(-4000)).toEqual([]);
  });
});

function guestLog(run: GuestRun): string {
  const f = join(run.resultsDir, 'guest.log');
  return existsSync(f) ? readFileSync(f, 'utf8') : run.console;
}
