/**
 * Runs INSIDE the VM guest (test/vm/bench-fullnat.ts): what FullNAT + TOA
 * costs a bulk transfer (iperf3 through the IPv4 VIP), upload and download,
 * one step at a time. Each round measures, back to back, per direction:
 *   nat      dnat only; the real server routes its replies through the director
 *   fullnat  dnat + snat to the LIP, no eBPF
 *   mss      fullnat with the real server advertising the clamped MSS
 *            (route advmss, no eBPF): what the smaller segments cost
 *   writer   fullnat + the director's TOA writer (which clamps the SYN-ACK)
 *   whole    writer + the real server's eBPF path
 * On the instruction clock a step's rate is bytes per instruction of the
 * guest's one CPU (client, director and real server together).
 * Writes $RESULTS/bulk-steps.json: each direction's steps, bits/s per round.
 *
 * Env: RESULTS, TOA_BENCH_ROUNDS (default 6), TOA_BENCH_SECONDS (default 2: a guest second of
 * iperf3 takes the emulator about five).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLab } from '../../lab/index.js';
import { bulkRate, CLAMPED_MSS, IPERF_PORT, startIperf } from '../../bench/bulk.js';
import { interleavedN } from '../../bench/stats.js';

export const BULK_STEPS = ['nat', 'fullnat', 'mss', 'writer', 'whole'] as const;
export type BulkStep = (typeof BULK_STEPS)[number];
export const DIRECTIONS = ['upload', 'download'] as const;
export type Direction = (typeof DIRECTIONS)[number];

const ROUNDS = Number(process.env.TOA_BENCH_ROUNDS ?? 6);
const SECONDS = Number(process.env.TOA_BENCH_SECONDS ?? 2);

async function main(): Promise<void> {
  const lab = await createLab({ offload: true });
  try {
    await startIperf(lab);
    /** Runs f with setup applied, undoing it after. */
    const within = (setup: () => Promise<void>, undo: () => Promise<void>) => async (f: () => Promise<number>) => {
      await setup();
      try {
        return await f();
      } finally {
        await undo();
      }
    };
    const writer = within(() => lab.attachWriter({ ports: [IPERF_PORT] }), () => lab.detachWriter());
    const realserver = within(() => lab.attachRealserver(), () => lab.detachRealserver());
    const step: Record<BulkStep, (f: () => Promise<number>) => Promise<number>> = {
      nat: within(() => lab.setNat('nat'), () => lab.setNat('fullnat')),
      fullnat: (f) => f(),
      mss: within(() => lab.routeMss(CLAMPED_MSS), () => lab.routeMss(null)),
      writer,
      whole: (f) => writer(() => realserver(f)),
    };
    const variants = DIRECTIONS.flatMap((d) => BULK_STEPS.map((s) => () => step[s](() => bulkRate(lab, SECONDS, d === 'download'))));
    // One unmeasured pass: the first transfer of a lab pays for cold caches.
    await bulkRate(lab, 1, false);
    const samples = await interleavedN(ROUNDS, variants);
    const out = Object.fromEntries(DIRECTIONS.map((d, i) => [d, Object.fromEntries(BULK_STEPS.map((s, j) => [s, samples[i * BULK_STEPS.length + j]]))]));
    writeFileSync(join(process.env.RESULTS ?? '.', 'bulk-steps.json'), JSON.stringify({ rounds: ROUNDS, seconds: SECONDS, directions: out }));
  } finally {
    await lab.destroy();
  }
}

// Run, not imported (bench-fullnat.ts imports its step names).
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
