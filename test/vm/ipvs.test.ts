/**
 * Stock IPVS as the director's engine, in Debian 6.1 and 6.12 guests: NAT
 * (masquerading) mode + an nft SNAT to the LIP pool + net.ipv4.vs.conntrack=1
 * is FullNAT, and the TOA writer in front makes both real-server paths
 * (toa.ko and the eBPF real server) show the client, in both families; then
 * the same with keepalived managing IPVS from examples/ipvs-keepalived.
 * The scenarios run in the guest (test/vm/guest/ipvs-scenarios.ts).
 *
 * TOA_VM_KERNELS=6.1 (or 6.12) runs one kernel.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildModule } from './build.js';
import { hangReport, removeRun, runGuest, vmUnavailable, type GuestRun } from './guest.js';
import { IPVS_SCENARIOS } from './guest/ipvs-names.js';
import { fetchKernel, type Series } from './kernels.js';

const why = vmUnavailable() ?? (existsSync('/usr/sbin/ipvsadm') && existsSync('/usr/sbin/keepalived') ? null : 'ipvsadm or keepalived missing (npm run bootstrap installs them)');
if (why) console.warn(`skipping IPVS VM tests: ${why}`);
const SERIES = (process.env.TOA_VM_KERNELS ?? '6.1,6.12').split(',').filter(Boolean) as Series[];

type Results = Record<string, { ok: boolean; seconds: number; detail?: unknown; error?: string }>;

function tail(text: string, lines = 60): string {
  return text.split('\n').slice(-lines).join('\n');
}

describe.skipIf(why).each(SERIES)('IPVS + keepalived director on Debian %s', (series) => {
  let run: GuestRun;
  let results: Results = {};

  beforeAll(async () => {
    const kernel = fetchKernel(series);
    const build = buildModule(kernel);
    run = await runGuest(kernel, {
      script: `export TOA_KO='${build.ko}'\nnode_modules/.bin/tsx test/vm/guest/ipvs-scenarios.ts`,
      extraModules: ['ip_vs', 'ip_vs_rr'],
      timeoutMs: 1_800_000,
    });
    const file = join(run.resultsDir, 'ipvs.json');
    if (existsSync(file)) results = JSON.parse(readFileSync(file, 'utf8'));
    console.log(`IPVS on ${kernel.release}: guest ran ${run.seconds.toFixed(0)} s`);
  });

  afterAll(() => {
    if (!run) return;
    if (run.exitCode === 0 && run.kernelProblems.length === 0 && IPVS_SCENARIOS.every((n) => results[n]?.ok)) removeRun(run);
    else console.warn(`VM run kept in ${run.resultsDir}`);
  });

  it('the guest boots, runs the scenarios and powers off in time', () => {
    const log = existsSync(join(run.resultsDir, 'guest.log')) ? readFileSync(join(run.resultsDir, 'guest.log'), 'utf8') : '';
    expect(run.timedOut, hangReport(run)).toBe(false);
    expect(run.exitCode, `console:\n${tail(run.console)}\nguest log:\n${tail(log)}`).toBe(0);
    expect(results['(runner)']?.error, 'the scenario runner crashed').toBeUndefined();
  });

  it.each(IPVS_SCENARIOS)('%s', (name) => {
    const r = results[name];
    expect(r, `scenario "${name}" did not run (see the runner and console)`).toBeDefined();
    expect(r.ok, r.error).toBe(true);
  });

  it('the guest kernel log reports no BUG, WARNING, Oops, KASAN or refcount error', () => {
    expect(run.kernelProblems, tail(run.dmesg || run.console, 80)).toEqual([]);
  });
});
