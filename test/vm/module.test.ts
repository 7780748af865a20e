/**
 * toa.ko on Debian's 6.1 and 6.12 kernels: build it against each kernel's
 * headers (no warnings), boot the kernel in qemu, run the module scenarios in
 * the guest (test/vm/guest/module-scenarios.ts) and turn each into a test.
 * The guest's kernel log must show no BUG, WARNING, Oops or similar.
 *
 * TOA_VM_KERNELS=6.1 (or 6.12) runs one kernel; TOA_VM_CONNS sets the size of
 * the many-connections scenario (default 10000).
 */
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildModule, buildTools, type ModuleBuild } from './build.js';
import { hangReport, removeRun, runGuest, vmUnavailable, type GuestRun } from './guest.js';
import { MODULE_SCENARIOS } from './guest/names.js';
import { fetchKernel, type Kernel, type Series } from './kernels.js';

const why = vmUnavailable();
if (why) console.warn(`skipping VM tests: ${why}`);
const SERIES = (process.env.TOA_VM_KERNELS ?? '6.1,6.12').split(',').filter(Boolean) as Series[];

type Results = Record<string, { ok: boolean; seconds: number; detail?: unknown; error?: string }>;

function tail(text: string, lines = 60): string {
  return text.split('\n').slice(-lines).join('\n');
}

describe.skipIf(why).each(SERIES)('toa.ko on Debian %s', (series) => {
  let kernel: Kernel;
  let build: ModuleBuild;
  let run: GuestRun;
  let results: Results = {};

  beforeAll(async () => {
    kernel = fetchKernel(series);
    build = buildModule(kernel);
    const tools = buildTools();
    run = await runGuest(kernel, {
      script: [
        `export TOA_KO='${build.ko}' TOA_SEND='${tools['toa-send']}' TOA_GPB='${tools['getpeername-bench']}' TOA_HAMMER='${tools['peer-hammer']}' TOA_FENTRY_HOLD='${tools['fentry-hold']}'`,
        `export TOA_VM_CONNS='${process.env.TOA_VM_CONNS ?? 10000}'`,
        // A developer's subset of the scenarios (see module-scenarios.ts); the rest then fail as not run.
        ...(process.env.TOA_VM_ONLY ? [`export TOA_VM_ONLY='${process.env.TOA_VM_ONLY.replace(/'/g, `'\\''`)}'`] : []),
        'node_modules/.bin/tsx test/vm/guest/module-scenarios.ts',
      ].join('\n'),
      // The guest's console as it comes (a hang's first kernel report is gone from the tail shown at the end).
      ...(process.env.TOA_VM_VERBOSE ? { onConsole: (l: string) => process.stdout.write(`${l}\n`) } : {}),
      // Within vitest's 40-minute hook limit: the load scenario alone took 21 minutes on a busy 2-core host.
      timeoutMs: 2_200_000,
    });
    const file = join(run.resultsDir, 'module.json');
    if (existsSync(file)) results = JSON.parse(readFileSync(file, 'utf8'));
    console.log(`toa.ko on ${kernel.release}: guest ran ${run.seconds.toFixed(0)} s`);
  });

  afterAll(() => {
    // Kept on failure for a look at guest.log, dmesg.txt and module.json.
    if (!run) return;
    if (run.exitCode === 0 && run.kernelProblems.length === 0 && MODULE_SCENARIOS.every((n) => results[n]?.ok)) removeRun(run);
    else console.warn(`VM run kept in ${run.resultsDir}`);
  });

  it('builds against the headers without warnings', () => {
    expect(build.warnings).toEqual([]);
    expect(existsSync(build.ko)).toBe(true);
  });

  it('the guest boots, runs the scenarios and powers off in time', () => {
    const log = existsSync(join(run.resultsDir, 'guest.log')) ? readFileSync(join(run.resultsDir, 'guest.log'), 'utf8') : '';
    expect(run.timedOut, hangReport(run)).toBe(false);
    expect(run.exitCode, `console:\n${tail(run.console)}\nguest log:\n${tail(log)}`).toBe(0);
    expect(results['(runner)']?.error, 'the scenario runner crashed').toBeUndefined();
  });

  it.each(MODULE_SCENARIOS)('%s', (name) => {
    const r = results[name];
    expect(r, `scenario "${name}" did not run (see the runner and console)`).toBeDefined();
    expect(r.ok, r.error).toBe(true);
  });

  it('the guest kernel log reports no BUG, WARNING, Oops, KASAN or refcount error', () => {
    expect(run.kernelProblems, tail(run.dmesg || run.console, 80)).toEqual([]);
  });
});
