/**
 * The director's end-to-end files on an older kernel, with each real-server
 * reader: boots Debian's 6.1 (or 6.12) in qemu and runs them (unchanged) in
 * it, the real server's reader chosen by TOA_E2E_READER (test/lab, READER).
 * - test/e2e/director-synproxy.test.ts, eBPF and toa.ko: the conntrack kfunc
 *   and the CO-RE reads of struct nf_conn against this verifier and BTF, and
 *   toa.ko (it loads only here) reading the TOA SYNPROXY's handshake carries.
 *   The spoofed flood is left to the host run: an emulated guest cannot send
 *   one at a meaningful rate.
 * - test/e2e/director-lost-ack.test.ts and director-shapes.test.ts, toa.ko:
 *   the handshake ACK lost on the way to the real server, and every crafted
 *   packet shape with a forged TOA, read by the module (the host runs them
 *   with the eBPF path).
 *
 * By default 6.1 only (the oldest verifier and BTF; the host covers the newest),
 * to keep CI's VM time in bounds; TOA_VM_DIRECTOR_KERNELS=6.1,6.12 runs both.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hangReport, removeRun, runGuest, vmUnavailable, type GuestRun } from './guest.js';
import { buildModule } from './build.js';
import { fetchKernel, type Series } from './kernels.js';

const why = vmUnavailable();
if (why) console.warn(`skipping VM tests: ${why}`);
const SERIES = (process.env.TOA_VM_DIRECTOR_KERNELS ?? '6.1').split(',').filter(Boolean) as Series[];
const SYNPROXY = 'test/e2e/director-synproxy.test.ts';
const LOST_ACK = 'test/e2e/director-lost-ack.test.ts';
const SHAPES = 'test/e2e/director-shapes.test.ts';
/** One vitest invocation per reader: its files, and the fewest tests each must pass (a file that skips passes none). */
const RUNS = {
  ebpf: { files: { [SYNPROXY]: 7 } },
  module: { files: { [SYNPROXY]: 7, [LOST_ACK]: 2, [SHAPES]: 11 } },
} as const;
type Reader = keyof typeof RUNS;
const CASES = (Object.keys(RUNS) as Reader[]).flatMap((r) => Object.entries(RUNS[r].files).map(([file, min]) => [file, r, min] as const));

interface VitestJson {
  testResults?: { name: string; status: string; message?: string; assertionResults: { fullName: string; status: string; failureMessages: string[] }[] }[];
}

describe.skipIf(why).each(SERIES)("the director's e2e files on Debian %s", (series) => {
  let run: GuestRun;
  const reports: Partial<Record<Reader, VitestJson>> = {};

  beforeAll(async () => {
    const kernel = fetchKernel(series);
    const build = buildModule(kernel);
    const vitest = (r: Reader): string =>
      `TOA_E2E_READER=${r} TOA_KO='${build.ko}' node_modules/.bin/vitest run --project e2e ${Object.keys(RUNS[r].files).join(' ')} ` +
      `-t '^(?!.*flood)' --reporter=json --outputFile="$RESULTS/vitest-${r}.json"`;
    run = await runGuest(kernel, {
      script: (Object.keys(RUNS) as Reader[]).map(vitest).join('; '),
      extraModules: ['nft_synproxy'],
      timeoutMs: 2_100_000,
    });
    for (const r of Object.keys(RUNS) as Reader[]) {
      const file = join(run.resultsDir, `vitest-${r}.json`);
      if (existsSync(file)) reports[r] = JSON.parse(readFileSync(file, 'utf8'));
    }
    console.log(`director e2e files on ${kernel.release}: guest ran ${run.seconds.toFixed(0)} s`);
  });

  afterAll(() => {
    if (!run) return;
    const ok =
      run.kernelProblems.length === 0 &&
      (Object.keys(RUNS) as Reader[]).every((r) => reports[r]?.testResults?.every((t) => t.status === 'passed'));
    if (ok) removeRun(run);
    else console.warn(`VM run kept in ${run.resultsDir}`);
  });

  it('the guest runs the tests and powers off in time', () => {
    expect(run.timedOut, hangReport(run)).toBe(false);
    for (const r of Object.keys(RUNS) as Reader[]) expect(reports[r]?.testResults, `no vitest report (${r}); console:\n${run.console.slice(-4000)}`).toBeDefined();
  });

  it.each(CASES)('%s passes in the guest, %s real server', (file, reader, min) => {
    const res = reports[reader]?.testResults?.find((r) => r.name.endsWith(file));
    expect(res, `${file} did not run`).toBeDefined();
    const failed = res!.assertionResults.filter((a) => a.status === 'failed');
    expect(failed.map((a) => `${a.fullName}: ${a.failureMessages.join('\n').slice(0, 16000)}`), res!.message).toEqual([]);
    expect(res!.assertionResults.filter((a) => a.status === 'passed').length).toBeGreaterThanOrEqual(min);
  });

  it('the guest kernel log reports no BUG, WARNING or Oops', () => {
    expect(run.kernelProblems, (run.dmesg || run.console).slice(-4000)).toEqual([]);
  });
});
