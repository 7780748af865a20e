/**
 * The VM part of `npm run bench`: toa.ko's cost on a Debian kernel, measured
 * in one guest run (test/vm/guest/bench-scenarios.ts): connection rate with
 * the module loaded vs not (ratio, goal >= 0.97) and getpeername() ns/call on
 * a connection with a record vs the same call without the module.
 *
 *   tsx test/vm/bench.ts [6.1|6.12]      prints the figures as JSON
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildModule, buildTools } from './build.js';
import { removeRun, runGuest } from './guest.js';
import { row, type Row } from '../bench/stats.js';
import { fetchKernel, type Series } from './kernels.js';

export interface VmBench {
  kernel: string;
  rounds: number;
  connectionsPerRound: number;
  connectionsPerSecond: { without: number; with: number };
  /** with / without; 1.0 = no cost */
  ratio: number;
  getpeernameNs: { without: number; with: number };
  /** every round's figure */
  samples: { rate: { with: number[]; without: number[] }; ns: { with: number[]; without: number[] } };
  /** guest seconds, TCG (numbers are relative: the guest is emulated) */
  seconds: number;
}

/** Boots the kernel once and measures; throws with the guest's log when the run fails. */
export async function benchVm(series: Series = '6.1', opts: { rounds?: number; connections?: number } = {}): Promise<VmBench> {
  const kernel = fetchKernel(series);
  const ko = buildModule(kernel).ko;
  const tools = buildTools();
  const run = await runGuest(kernel, {
    script: [
      `export TOA_KO='${ko}' TOA_SEND='${tools['toa-send']}' TOA_GPB='${tools['getpeername-bench']}'`,
      `export TOA_BENCH_ROUNDS=${opts.rounds ?? 4} TOA_BENCH_CONNS=${opts.connections ?? 400}`,
      'node_modules/.bin/tsx test/vm/guest/bench-scenarios.ts',
    ].join('\n'),
    timeoutMs: 1_800_000,
  });
  const file = join(run.resultsDir, 'bench.json');
  if (run.exitCode !== 0 || !existsSync(file)) {
    const log = existsSync(join(run.resultsDir, 'guest.log')) ? readFileSync(join(run.resultsDir, 'guest.log'), 'utf8') : run.console;
    throw new Error(`VM bench on ${kernel.release} failed (exit ${run.exitCode}, timed out: ${run.timedOut}):\n${log.slice(-4000)}`);
  }
  const r = JSON.parse(readFileSync(file, 'utf8'));
  removeRun(run);
  return {
    kernel: kernel.release,
    rounds: r.rounds,
    connectionsPerRound: r.connectionsPerRound,
    connectionsPerSecond: r.connectionsPerSecond,
    ratio: r.ratio,
    getpeernameNs: r.getpeernameNs,
    samples: r.raw,
    seconds: run.seconds,
  };
}

/** The figures as rows of `npm run bench`'s table (test/bench/stats.ts). */
export async function benchModuleRows(series: Series = '6.1'): Promise<Row[]> {
  const b = await benchVm(series);
  return [
    row(`connections/s, toa.ko on ${b.kernel} (TCG)`, 'conn/s', 'higher', { baseline: b.samples.rate.without, feature: b.samples.rate.with }, '>= 0.97'),
    row('getpeername() on a TOA connection', 'ns', 'lower', { baseline: b.samples.ns.without, feature: b.samples.ns.with }),
  ];
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const series = (process.argv[2] ?? '6.1') as Series;
  if (series !== '6.1' && series !== '6.12') {
    process.stderr.write('usage: tsx test/vm/bench.ts [6.1|6.12]\n');
    process.exit(2);
  }
  console.log(JSON.stringify(await benchVm(series), null, 2));
}
