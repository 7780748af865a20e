/**
 * The director behind SYNPROXY on older kernels: boots Debian's 6.1 (or 6.12) in
 * qemu and runs test/e2e/director-synproxy.test.ts (unchanged) in it, so the
 * conntrack kfunc and the CO-RE reads of struct nf_conn are checked against
 * their verifiers and BTF, not only the host's; once with the eBPF real
 * server, once with toa.ko (the only place it can load). The spoofed flood is left to
 * the host run: an emulated guest cannot send one at a meaningful rate.
 *
 * By default 6.1 only (the oldest verifier and BTF; the host covers the newest),
 * to keep CI's VM time in bounds; TOA_VM_SYNPROXY_KERNELS=6.1,6.12 runs both.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeRun, runGuest, vmUnavailable, type GuestRun } from './guest.js';
import { buildModule } from './build.js';
import { fetchKernel, type Series } from './kernels.js';

const why = vmUnavailable();
if (why) console.warn(`skipping VM tests: ${why}`);
const SERIES = (process.env.TOA_VM_SYNPROXY_KERNELS ?? '6.1').split(',').filter(Boolean) as Series[];
const FILE = 'test/e2e/director-synproxy.test.ts';

interface VitestJson {
  testResults?: { name: string; status: string; message?: string; assertionResults: { fullName: string; status: string; failureMessages: string[] }[] }[];
}

describe.skipIf(why).each(SERIES)('director behind SYNPROXY on Debian %s', (series) => {
  let run: GuestRun;
  const reports: { ebpf?: VitestJson; module?: VitestJson } = {};

  beforeAll(async () => {
    const kernel = fetchKernel(series);
    const build = buildModule(kernel);
    // Twice: the eBPF real server, then toa.ko (TOA_SYNPROXY_READER=module).
    const vitest = `node_modules/.bin/vitest run --project e2e ${FILE} -t '^(?!.*flood)' --reporter=json`;
    run = await runGuest(kernel, {
      script: [
        `${vitest} --outputFile="$RESULTS/vitest.json"`,
        `TOA_SYNPROXY_READER=module TOA_KO='${build.ko}' ${vitest} --outputFile="$RESULTS/vitest-module.json"`,
      ].join('; '),
      extraModules: ['nft_synproxy'],
      timeoutMs: 1_800_000,
    });
    for (const [name, k] of [['vitest.json', 'ebpf'], ['vitest-module.json', 'module']] as const) {
      const file = join(run.resultsDir, name);
      if (existsSync(file)) reports[k] = JSON.parse(readFileSync(file, 'utf8'));
    }
    console.log(`SYNPROXY on ${kernel.release}: guest ran ${run.seconds.toFixed(0)} s`);
  });

  afterAll(() => {
    if (!run) return;
    const ok =
      run.kernelProblems.length === 0 &&
      [reports.ebpf, reports.module].every((rep) => rep?.testResults?.every((r) => r.status === 'passed'));
    if (ok) removeRun(run);
    else console.warn(`VM run kept in ${run.resultsDir}`);
  });

  it('the guest runs the tests and powers off in time', () => {
    expect(run.timedOut, `guest hung; console:\n${run.console.slice(-4000)}`).toBe(false);
    expect(reports.ebpf?.testResults, `no vitest report; console:\n${run.console.slice(-4000)}`).toBeDefined();
  });

  it.each(['ebpf', 'module'] as const)(`${FILE} passes in the guest, %s real server`, (reader) => {
    const res = reports[reader]?.testResults?.find((r) => r.name.endsWith(FILE));
    expect(res, `${FILE} did not run`).toBeDefined();
    const failed = res!.assertionResults.filter((a) => a.status === 'failed');
    expect(failed.map((a) => `${a.fullName}: ${a.failureMessages.join('\n').slice(0, 1500)}`), res!.message).toEqual([]);
    expect(res!.assertionResults.filter((a) => a.status === 'passed').length).toBeGreaterThanOrEqual(4);
  });

  it('the guest kernel log reports no BUG, WARNING or Oops', () => {
    expect(run.kernelProblems, (run.dmesg || run.console).slice(-4000)).toEqual([]);
  });
});
