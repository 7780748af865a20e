/**
 * The seed's own figure (LVS FullNAT against NAT) step by step, and what its
 * SYNPROXY costs when no flood comes, on the instruction clock:
 * test/vm/guest/fullnat-steps.ts (connections) and bulk-steps.ts (iperf3
 * both ways) in a guest whose clock counts instructions
 * (qemu icount, one vCPU). On the 2-core host the same comparisons
 * (`npm run bench director`, `synproxy`) move by a tenth or more from round
 * to round. Here a step's per-round ratio still moves by a few percent
 * (state left by earlier connections), but its median over 6 rounds
 * repeats from run to run to about one percent. What it counts is every
 * instruction the one CPU runs per connection (client, director and real
 * server together), not time on hardware: caches and the host's second core
 * are not in it. A guest "second" is 1e9 instructions only while the vCPU
 * is busy (idle time passes at the host's pace); under wrk's 32 connections
 * it hardly idles (0.3% measured in the toa.ko bench's guest), nor under
 * iperf3. Six rounds take about half an hour.
 *
 *   tsx test/vm/bench-fullnat.ts [6.1|6.12] [rounds]   prints the table
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { guestJson, removeRun, runGuest, verboseConsole } from './guest.js';
import { fetchKernel, repoRoot, type Series } from './kernels.js';
import { median, row, table, type Row } from '../bench/stats.js';
import { STEPS, type Step } from './guest/fullnat-steps.js';
import { BULK_STEPS, DIRECTIONS, type BulkStep, type Direction } from './guest/bulk-steps.js';
import { CLAMPED_MSS } from '../bench/bulk.js';

/** What the guest's step scripts measured: connections/s per step, bits/s per direction and step, per round. */
export interface StepFigures {
  steps: Record<Step, number[]>;
  bulk: Record<Direction, Record<BulkStep, number[]>>;
}

/**
 * Instructions that `feature` adds to `baseline` per connection or per KiB moved (rates are
 * per guest second, and a guest ns is one instruction).
 */
function added(baseline: number[], feature: number[], per: 'connection' | 'KiB'): string {
  const scale = per === 'KiB' ? 8192 : 1;
  const insn = (scale / median(feature) - scale / median(baseline)) * 1e9;
  const sign = insn >= 0 ? '+' : '';
  return per === 'KiB' ? `${sign}${insn.toFixed(0)} insn/KiB` : `${sign}${(insn / 1000).toFixed(1)} k insn/connection`;
}

/** The bench's rows from the guest's figures; throws when a step has none. */
export function fullnatRows(release: string, f: StepFigures): Row[] {
  const missing = [
    ...STEPS.filter((k) => !f.steps?.[k]?.length),
    ...DIRECTIONS.flatMap((d) => BULK_STEPS.filter((k) => !f.bulk?.[d]?.[k]?.length).map((k) => `${d} ${k}`)),
  ];
  if (missing.length) throw new Error(`FullNAT steps on ${release}: no figures for ${missing.join(', ')}`);
  const compare = (name: string, unit: string, b: number[], x: number[], per: 'connection' | 'KiB', goal?: string): Row =>
    row(name, unit, 'higher', { baseline: b, feature: x }, [goal, `(${added(b, x, per)})`].filter(Boolean).join(' '));
  const step = (name: string, from: Step, to: Step, goal?: string) => compare(name, 'c/s', f.steps[from], f.steps[to], 'connection', goal);
  return [
    step(`FullNAT + TOA vs plain NAT on ${release}: connections/s`, 'nat', 'whole', '>= 0.95'),
    step('  of it: snat to the LIP (FullNAT, no eBPF)', 'nat', 'fullnat'),
    step("  of it: the director's writer", 'fullnat', 'writer'),
    step("  of it: the real server's eBPF path", 'writer', 'whole'),
    step('SYNPROXY + --rs-dev vs FullNAT + writer (no flood): connections/s', 'writer', 'synproxy', '>= 0.95'),
    step('  SYNPROXY alone (no timestamps, no writer) vs FullNAT alone', 'fullnat', 'bare'),
    step('  the --rs-dev writer behind it (no timestamps)', 'bare', 'rsdev'),
    ...DIRECTIONS.flatMap((d) => {
      const bulk = (name: string, from: BulkStep, to: BulkStep, goal?: string) => compare(name, 'b/s', f.bulk[d][from], f.bulk[d][to], 'KiB', goal);
      return [
        bulk(`FullNAT + TOA vs plain NAT: bulk ${d} (iperf3${d === 'download' ? ' -R' : ''})`, 'nat', 'whole', '>= 0.97'),
        bulk('  of it: snat to the LIP (FullNAT, no eBPF)', 'nat', 'fullnat'),
        bulk(`director: bulk ${d}, the writer vs none`, 'fullnat', 'writer', '>= 0.98'),
        bulk(`  of it: MSS ${CLAMPED_MSS.v4} alone (route advmss, no eBPF)`, 'fullnat', 'mss'),
        bulk('  of it: the writer at the same MSS', 'mss', 'writer', '>= 0.99'),
        bulk("  the real server's eBPF path", 'writer', 'whole'),
      ];
    }),
  ];
}

export async function benchFullnatRows(series: Series = '6.12', rounds = 6): Promise<Row[]> {
  const kernel = fetchKernel(series);
  execFileSync('make', ['-s', '-C', join(repoRoot, 'test/bench')], { stdio: 'inherit' });
  const run = await runGuest(kernel, {
    script: [
      `export TOA_LOOP='${join(repoRoot, 'test/bench/build/accept-loop')}' TOA_BENCH_ROUNDS=${rounds}`,
      'node_modules/.bin/tsx test/vm/guest/fullnat-steps.ts || exit',
      'node_modules/.bin/tsx test/vm/guest/bulk-steps.ts',
    ].join('\n'),
    cpus: 1,
    icount: true,
    extraModules: ['nft_synproxy'],
    timeoutMs: 3_600_000,
    ...verboseConsole(),
  });
  const what = `FullNAT steps (fullnat-steps.ts, then bulk-steps.ts) on ${kernel.release}`;
  const rows = fullnatRows(kernel.release, {
    steps: guestJson(run, 'fullnat-steps.json', what).steps,
    bulk: guestJson(run, 'bulk-steps.json', what).directions,
  });
  removeRun(run);
  return rows;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [series = '6.12', r] = process.argv.slice(2);
  const rounds = r === undefined ? 6 : Number(r);
  if ((series !== '6.1' && series !== '6.12') || !Number.isInteger(rounds) || rounds < 1 || process.argv.length > 4) {
    process.stderr.write('usage: tsx test/vm/bench-fullnat.ts [6.1|6.12] [rounds]\n');
    process.exit(2);
  }
  process.stdout.write(table('FullNAT + TOA vs plain NAT step by step (connections, bulk), and SYNPROXY with no flood (qemu TCG, its clock counting instructions)', await benchFullnatRows(series, rounds)) + '\n');
}
