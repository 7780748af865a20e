/**
 * The toa-dkms package where it is meant to run: installed (dpkg -i) on a
 * Debian system running 6.1 with that kernel's headers, its postinst has
 * DKMS build toa.ko for the running kernel; the module then loads (modprobe,
 * with a trust list), reports its counters, unloads, and a purge removes it.
 * The guest runs the host's userland, so this is the host's dpkg and dkms.
 *
 * TOA_VM_KERNELS=6.12 runs the other kernel instead (one is enough: the same
 * source builds for both in test/vm/module.test.ts).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeRun, runGuest, vmUnavailable, type GuestRun } from './guest.js';
import { fetchKernel, repoRoot, type Series } from './kernels.js';

const why = vmUnavailable() ?? (existsSync('/usr/sbin/dkms') ? null : 'dkms missing (npm run bootstrap installs it)');
if (why) console.warn(`skipping the DKMS VM test: ${why}`);
const SERIES = ((process.env.TOA_VM_KERNELS ?? '6.1').split(',')[0] || '6.1') as Series;

/** The guest's steps, in order; each leaves NAME.rc and NAME.out in $RESULTS. */
const STEPS = ['install', 'status', 'modprobe', 'counters', 'rmmod', 'purge', 'gone', 'leftover', 'index'] as const;

function guestScript(deb: string, kdir: string): string {
  return `set -u
rel=$(uname -r)
step() { name=$1; shift; "$@" > "$RESULTS/$name.out" 2>&1; echo $? > "$RESULTS/$name.rc"; }
# What a booted Debian has and the guest's devtmpfs lacks (dkms reads through /dev/fd).
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
# The headers package's place for the running kernel (linux-headers-$rel installs this link).
mkdir -p "/lib/modules/$rel" && ln -sfn '${kdir}' "/lib/modules/$rel/build"
step install dpkg -i '${deb}'
step status dkms status -m toa -k "$rel"
step modprobe modprobe toa trust=192.0.2.1/32,2001:db8:200::1/128
step counters cat /proc/net/toa_stats
step rmmod rmmod toa
step purge dpkg --purge toa-dkms
step gone sh -c "dpkg -s toa-dkms; ls -d /usr/src/toa-* 2>/dev/null"
step leftover sh -c "dkms status -m toa; ls -A /lib/modules/$rel/updates/dkms"
# For the log: whether depmod's index still names the module.
step index sh -c "grep toa /lib/modules/$rel/modules.dep; ls -l /lib/modules/$rel"
`;
}

describe.skipIf(why)(`toa-dkms on Debian ${SERIES}`, () => {
  let run: GuestRun;
  let release = '';
  const out: Record<string, { rc: number; text: string }> = {};

  beforeAll(async () => {
    const kernel = fetchKernel(SERIES);
    release = kernel.release;
    // Under the repository: the guest has its own /tmp.
    mkdirSync(join(repoRoot, '.cache/vm'), { recursive: true });
    const debs = mkdtempSync(join(repoRoot, '.cache/vm/debs-'));
    const b = spawnSync(join(repoRoot, 'scripts/build-debs.sh'), [debs], { cwd: repoRoot, encoding: 'utf8' });
    if (b.status !== 0) throw new Error(`build-debs.sh failed:\n${b.stdout}${b.stderr}`);
    const deb = b.stdout.trim().split('\n').find((l) => /toa-dkms_.*\.deb$/.test(l))!;
    // DKMS compiles in the guest, which qemu emulates: minutes, not seconds.
    run = await runGuest(kernel, { script: guestScript(deb, kernel.kdir), timeoutMs: 1_200_000 });
    for (const s of STEPS) {
      const rc = join(run.resultsDir, `${s}.rc`);
      if (existsSync(rc)) out[s] = { rc: Number(readFileSync(rc, 'utf8')), text: readFileSync(join(run.resultsDir, `${s}.out`), 'utf8') };
    }
    rmSync(debs, { recursive: true, force: true });
    console.log(`toa-dkms on ${release}: guest ran ${run.seconds.toFixed(0)} s`);
  }, 1_500_000);

  afterAll(() => {
    if (!run) return;
    if (run.exitCode === 0 && run.kernelProblems.length === 0 && STEPS.every((s) => out[s])) removeRun(run);
    else console.warn(`VM run kept in ${run.resultsDir}`);
  });

  it('the guest boots, runs every step and powers off in time', () => {
    expect(run.timedOut, run.console.slice(-3000)).toBe(false);
    expect(STEPS.filter((s) => !out[s]), run.console.slice(-3000)).toEqual([]);
  });

  it('dpkg -i builds and installs toa.ko for the running kernel through DKMS', () => {
    expect(out.install.rc, out.install.text).toBe(0);
    expect(out.install.text, out.install.text).not.toContain('not built for');
    expect(out.status.text, out.status.text).toMatch(new RegExp(`^toa/[0-9.]+, ${release.replace(/[.+]/g, '\\$&')}, x86_64: installed`, 'm'));
  });

  it('modprobe loads it with a trust list, and it reports its counters', () => {
    expect(out.modprobe.rc, out.modprobe.text).toBe(0);
    expect(out.counters.rc, out.counters.text).toBe(0);
    expect(out.counters.text).toMatch(/found/);
    expect(out.rmmod.rc, out.rmmod.text).toBe(0);
  });

  it('dpkg --purge takes the module away', () => {
    expect(out.purge.rc, out.purge.text).toBe(0);
    expect(out.purge.text, out.purge.text).toContain('Removing toa-dkms');
    // The package and its source are gone (dpkg's own doing); what DKMS left behind is logged.
    expect(out.gone.text, out.gone.text).toMatch(/not installed/);
    expect(out.gone.text, out.gone.text).not.toMatch(/\/usr\/src\/toa-/);
    console.log(`after the purge, DKMS's state and depmod's index of ${release}:\n${out.leftover.text}\n${out.index.text}`);
  });

  it('the guest kernel log reports no BUG, WARNING, Oops, KASAN or refcount error', () => {
    expect(run.kernelProblems, (run.dmesg || run.console).slice(-4000)).toEqual([]);
  });
});
