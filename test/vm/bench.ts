/**
 * The VM part of `npm run bench`: toa.ko's cost on a Debian kernel, measured
 * in one guest run (test/vm/guest/bench-scenarios.ts), module loaded vs not,
 * every connection carrying a TOA from the lab's director: connections/s to
 * a lean C accept loop (goal >= 0.98) and to the Node server, and
 * getpeername() ns/call on a connection with a record (goal: at most 150 ns
 * more than without the module), by the default path and by the ftrace ops
 * path.
 *
 *   tsx test/vm/bench.ts [6.1|6.12] [rounds] [--against REV] [--realtime [--cpus N]]   prints the figures as JSON
 *
 * By default the guest's clock counts instructions (qemu icount, one vCPU):
 * while the guest runs, a "ns" is one instruction executed (idle time passes
 * at the host's pace), and the figures repeat to a fraction of a percent
 * from run to run, where the host's clock (--realtime) makes the emulated
 * guest's speed drift by tens of percent, in steps, within one run.
 * Instructions are what the emulator can count: it models no caches, so
 * neither clock shows what a cache miss costs on hardware.
 *
 * --against REV also loads toa.ko as git revision REV had it in each
 * getpeername() cycle: a change to the module measured against the code it
 * replaces, side by side in one guest.
 *
 * --realtime --cpus N boots the guest with N vCPUs (default 2) on the
 * host's clock. qemu runs them all on one host thread, taking turns, so work
 * on another vCPU stretches the bench's clock.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildModule, buildModuleAt, buildTools } from './build.js';
import { guestJson, removeRun, runGuest, verboseConsole } from './guest.js';
import { row, type Row } from '../bench/stats.js';
import { fetchKernel, repoRoot, type Series } from './kernels.js';

type Pair = { with: number; without: number };

export interface VmBench {
  kernel: string;
  /** instructions: the guest's ns are instructions executed (qemu icount); host: its clock follows the host's */
  clock: 'instructions' | 'host';
  /** the guest's vCPUs */
  cpus: number;
  rounds: number;
  /** seconds of wrk per measure */
  seconds: number;
  /**
   * connections/s medians; ratio = with / without (1.0 = no cost); paired: the
   * median of the rounds' own ratios (each round ran both states back to back)
   */
  lean: Pair & { ratio: number; paired: number };
  node: Pair & { ratio: number; paired: number };
  /**
   * with: the default path (the ftrace direct call where the kernel has it); ops: getname_direct=0;
   * overhead, opsOverhead: the median of per-cycle differences against the module unloaded in the same cycle,
   * each measure scaled by the control's ratio (getpeername() on a Unix socket pair, which toa.ko never
   * hooks, timed alongside); rawOverhead, rawOpsOverhead: the same unscaled
   */
  getpeernameNs: Pair & {
    overhead: number;
    ops: number;
    opsOverhead: number;
    rawOverhead: number;
    rawOpsOverhead: number;
    cycles: number;
    /** --against: that build's median ns and overhead, and the median per-cycle saving of this one over it (scaled) */
    against?: { rev: string; ns: number; overhead: number; saved: number };
  };
  /** every round's figure */
  samples: {
    lean: Record<'with' | 'without', number[]>;
    node: Record<'with' | 'without', number[]>;
    ns: Record<'with' | 'without', number[]>;
    nsOps: number[];
    nsAgainst: number[];
    /** the control's ns per call beside each ns and nsOps measure */
    ctl: Record<'with' | 'without' | 'ops' | 'against', number[]>;
  };
  /** guest seconds, TCG (numbers are relative: the guest is emulated) */
  guestSeconds: number;
}

/** Boots the kernel once and measures; throws with the guest's log when the run fails. */
export async function benchVm(
  series: Series = '6.1',
  opts: { rounds?: number; seconds?: number; against?: string; realtime?: boolean; cpus?: number } = {},
): Promise<VmBench> {
  // The instruction clock runs one vCPU: runGuest refuses more (qemuArgs).
  const cpus = opts.cpus ?? (opts.realtime ? 2 : 1);
  const kernel = fetchKernel(series);
  const ko = buildModule(kernel).ko;
  const against = opts.against ? buildModuleAt(kernel, opts.against).ko : '';
  const tools = buildTools();
  execFileSync('make', ['-s', '-C', join(repoRoot, 'test/bench')], { stdio: 'inherit' });
  const run = await runGuest(kernel, {
    script: [
      `export TOA_KO='${ko}' TOA_SEND='${tools['toa-send']}' TOA_GPB='${tools['getpeername-bench']}' TOA_LOOP='${join(repoRoot, 'test/bench/build/accept-loop')}'`,
      `export TOA_BENCH_ROUNDS=${opts.rounds ?? 6} TOA_BENCH_SECONDS=${opts.seconds ?? 3} TOA_KO_AGAINST='${against}'`,
      'node_modules/.bin/tsx test/vm/guest/bench-scenarios.ts',
    ].join('\n'),
    timeoutMs: 1_800_000,
    cpus,
    icount: !opts.realtime,
    ...verboseConsole(),
  });
  const r = guestJson(run, 'bench.json', `VM bench on ${kernel.release}`);
  removeRun(run);
  return {
    kernel: kernel.release,
    clock: opts.realtime ? 'host' : 'instructions',
    cpus,
    rounds: r.rounds,
    seconds: r.seconds,
    lean: r.lean,
    node: r.node,
    getpeernameNs: {
      ...r.getpeernameNs,
      against: r.getpeernameNs.against && { rev: opts.against, ...r.getpeernameNs.against },
    },
    samples: r.raw,
    guestSeconds: run.seconds,
  };
}

/** The figures as rows of `npm run bench`'s table (test/bench/stats.ts). */
export async function benchModuleRows(series: Series = '6.1'): Promise<Row[]> {
  const b = await benchVm(series);
  const s = b.samples;
  // On the instruction clock a guest "ns" is an instruction; a server core retires several per ns.
  const unit = b.clock === 'instructions' ? 'insn' : 'ns';
  return [
    row(`toa.ko on ${b.kernel}: connections/s, C accept loop`, 'c/s', 'higher', { baseline: s.lean.without, feature: s.lean.with }, `>= 0.98 (rounds' own: ${b.lean.paired.toFixed(3)})`),
    row('toa.ko: connections/s, Node (reads remoteAddress)', 'c/s', 'higher', { baseline: s.node.without, feature: s.node.with }),
    row('toa.ko: getpeername() on a TOA connection', unit, 'lower', { baseline: s.ns.without, feature: s.ns.with }, `<= +150 ns (+${b.getpeernameNs.overhead.toFixed(0)} ${unit})`),
    row('  the same through ftrace ops (getname_direct=0)', unit, 'lower', { baseline: s.ns.without, feature: s.nsOps }, `(+${b.getpeernameNs.opsOverhead.toFixed(0)} ${unit})`),
  ];
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const series = (process.argv[2] ?? '6.1') as Series;
  const args = process.argv.slice(3);
  const option = (name: string): { given: boolean; value?: string } => {
    const at = args.indexOf(name);
    if (at < 0) return { given: false };
    // Another option is no value: `--against --realtime` lacks its revision.
    const value = args[at + 1];
    if (value === undefined || value.startsWith('-')) {
      args.splice(at, 1);
      return { given: true };
    }
    return { given: true, value: args.splice(at, 2)[1] };
  };
  const against = option('--against');
  const cpus = option('--cpus');
  const realtime = args.includes('--realtime');
  if (realtime) args.splice(args.indexOf('--realtime'), 1);
  const rounds = args[0] === undefined ? undefined : Number(args[0]);
  const positive = (n: number | undefined): boolean => n === undefined || (Number.isInteger(n) && n > 0);
  const ncpus = cpus.value === undefined ? undefined : Number(cpus.value);
  if (
    (series !== '6.1' && series !== '6.12') ||
    !positive(rounds) ||
    args.length > 1 ||
    (against.given && !against.value) ||
    (cpus.given && (!realtime || ncpus === undefined || !positive(ncpus) || ncpus > 8))
  ) {
    process.stderr.write('usage: tsx test/vm/bench.ts [6.1|6.12] [rounds] [--against REV] [--realtime [--cpus 1-8]]\n');
    process.exit(2);
  }
  console.log(JSON.stringify(await benchVm(series, { rounds, against: against.value, realtime, cpus: ncpus }), null, 2));
}
