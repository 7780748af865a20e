/**
 * The real-server eBPF path's kernel floor, Linux 5.10, on the kernel itself:
 * boots Debian 11's 5.10 in qemu (test/tools/kernel-5.10.ts) and, inside it,
 * loads the programs through that verifier, attaches, and runs
 * test/e2e/realserver.test.ts unchanged. 5.10's verifier refuses things newer
 * ones take (pointer arguments of global functions, loops closed by a
 * fall-through): only loading there shows them. Named so test/vm/ebpf.test.ts,
 * which runs test/e2e/realserver*.test.ts in its guests, leaves it out.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeRun, runGuest, vmUnavailable, type GuestRun } from '../vm/guest.js';
import { fetchKernel510 } from '../tools/kernel-5.10.js';

// Inside a guest already (test/vm runs e2e files there): no VM in a VM.
const why = process.env.TOA_VM ? 'already inside a VM guest' : vmUnavailable();

const SCRIPT = `
set -u
uname -r > "$RESULTS/uname"
test/wire/build/verify-load bpf/build/realserver.bpf.o > "$RESULTS/verify-realserver.json"
test/wire/build/verify-load test/wire/build/header-check.bpf.o > "$RESULTS/verify-header.json"
cg=/sys/fs/cgroup/toa-510; pins=/sys/fs/bpf/toa-510
mkdir -p $cg
bpf/build/toa-bpf realserver attach --cgroup $cg --trust 192.0.2.0/24 --pin-dir $pins > "$RESULTS/attach.txt" 2>&1
bpf/build/toa-bpf realserver status --json --pin-dir $pins > "$RESULTS/status.json"
bpf/build/toa-bpf realserver detach --pin-dir $pins > "$RESULTS/detach.txt" 2>&1
node_modules/.bin/vitest run --project e2e test/e2e/realserver.test.ts --reporter=json --outputFile="$RESULTS/vitest.json" > /dev/null 2>&1
true
`;

interface Loaded {
  program: string;
  loaded: boolean;
  insns: number;
}

describe.skipIf(why)(`real-server eBPF path on Linux 5.10${why ? ` (skipped: ${why})` : ''}`, () => {
  let run: GuestRun;
  const out = (name: string): string => {
    const f = join(run.resultsDir, name);
    return existsSync(f) ? readFileSync(f, 'utf8') : '';
  };
  const loads = (name: string): Loaded[] => out(name).trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));

  beforeAll(async () => {
    const kernel = fetchKernel510();
    run = await runGuest(kernel, { script: SCRIPT, timeoutMs: 900_000 });
  }, 1_200_000);

  afterAll(() => {
    if (!run) return;
    const report = out('vitest.json');
    const ok = run.exitCode === 0 && run.kernelProblems.length === 0 && report && JSON.parse(report).success;
    if (ok) removeRun(run);
    else console.warn(`5.10 run kept in ${run.resultsDir}`);
  });

  it('boots Debian 11 kernel 5.10', () => {
    expect(run.timedOut, run.console.slice(-3000)).toBe(false);
    expect(out('uname')).toMatch(/^5\.10\.0-\d+-amd64/);
  });

  it("5.10's verifier accepts every real-server program and the wire header's BPF build", () => {
    const rs = loads('verify-realserver.json');
    expect(rs.map((p) => [p.program, p.loaded])).toEqual([
      ['toa_sockops', true],
      ['toa_getpeername4', true],
      ['toa_getpeername6', true],
      ['toa_records_iter', true],
    ]);
    expect(loads('verify-header.json').map((p) => [p.program, p.loaded])).toEqual([
      ['toa_header_check', true],
      ['toa_vector', true],
    ]);
    for (const p of rs) process.stderr.write(`realserver on 5.10: verifier processed ${p.insns} instructions for ${p.program}\n`);
  });

  it('toa-bpf attaches (its feature probes pass), reports and detaches', () => {
    expect(out('attach.txt')).toMatch(/realserver: attached to cgroup \/sys\/fs\/cgroup\/toa-510/);
    expect(JSON.parse(out('status.json'))).toMatchObject({
      attached: true,
      links: { sockops: true, getpeername4: true, getpeername6: true },
      trust: ['192.0.2.0/24'],
    });
    expect(out('detach.txt')).toMatch(/realserver: detached/);
  });

  it('test/e2e/realserver.test.ts passes in the guest', () => {
    const report = out('vitest.json');
    expect(report, `no vitest report; guest log:\n${out('guest.log').slice(-3000)}`).not.toBe('');
    const r = JSON.parse(report) as { numPassedTests: number; testResults: { assertionResults: { fullName: string; status: string; failureMessages: string[] }[] }[] };
    const failed = r.testResults.flatMap((f) => f.assertionResults.filter((a) => a.status !== 'passed'));
    expect(failed.map((a) => `${a.fullName}: ${a.status} ${a.failureMessages.join('\n').slice(0, 1500)}`)).toEqual([]);
    expect(r.numPassedTests).toBeGreaterThanOrEqual(16);
  });

  it('the guest kernel log reports no BUG, WARNING or Oops', () => {
    expect(run.kernelProblems, (run.dmesg || run.console).slice(-3000)).toEqual([]);
  });
});
