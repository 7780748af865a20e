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
 * Rates are bits per guest second, which on the instruction clock is 1e9
 * instructions of the guest's one CPU (client, director and real server together).
 * Writes $RESULTS/bulk-steps.json: each direction's steps, bits/s per round.
 *
 * Env: RESULTS, TOA_BENCH_ROUNDS (default 6), TOA_BENCH_SECONDS (default 2: a guest second of
 * iperf3 takes the emulator about five).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLab } from '../../lab/index.js';
import { bulkRate, IPERF_PORT, startIperf } from '../../bench/bulk.js';
import { labSteps, type Wrapper } from '../../bench/lab-steps.js';
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
    const { plainNat, sameMss, writer, whole } = labSteps(lab, [IPERF_PORT]);
    const step: Record<BulkStep, Wrapper> = { nat: plainNat, fullnat: (f) => f(), mss: sameMss, writer, whole };
    const variants = DIRECTIONS.flatMap((d) => BULK_STEPS.map((s) => () => step[s](() => bulkRate(lab, SECONDS, d === 'download'))));
    // One unmeasured pass each way: the first transfers of a lab pay for cold caches.
    await bulkRate(lab, 1, false);
    await bulkRate(lab, 1, true);
    const samples = await interleavedN(ROUNDS, variants);
    const out = Object.fromEntries(DIRECTIONS.map((d, i) => [d, Object.fromEntries(BULK_STEPS.map((s, j) => [s, samples[i * BULK_STEPS.length + j]]))]));
    writeFileSync(join(process.env.RESULTS ?? '.', 'bulk-steps.json'), JSON.stringify({ rounds: ROUNDS, seconds: SECONDS, directions: out }));
  } finally {
    await lab.destroy();
  }
}

// Run, not imported (bench-fullnat.ts imports its step names).
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
