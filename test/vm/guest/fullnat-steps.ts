/**
 * Runs INSIDE the VM guest (test/vm/bench-fullnat.ts): what FullNAT + TOA
 * costs against plain NAT, one step at a time, in connections per second
 * (wrk, one request per connection, to the lean C accept loop). Each round
 * measures, back to back:
 *   nat      dnat only; the real server routes its replies through the director
 *   fullnat  dnat + snat to the LIP, no eBPF
 *   writer   fullnat + the director's TOA writer
 *   whole    writer + the real server's eBPF path
 *   synproxy the SYNPROXY recipe in front of fullnat, with the writer on
 *            both devices (--rs-dev); against writer: the seed's second
 *            feature's cost when no flood comes
 *   bare     SYNPROXY without timestamps (no TSecr for a writer to fix)
 *            and without the writer: the kernel's part
 *   rsdev    bare + the writer on both devices: the writer's part
 * On the instruction clock every step is the instructions the guest's one
 * CPU spends per connection (client, director and real server together).
 * Writes $RESULTS/fullnat-steps.json: each step's connections/s per round.
 *
 * Env: RESULTS, TOA_LOOP (accept-loop), TOA_BENCH_ROUNDS (default 6), TOA_BENCH_SECONDS (default 3).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLab } from '../../lab/index.js';
import { connRate, settle } from '../../bench/conn-rate.js';
import { interleavedN } from '../../bench/stats.js';
import { labSteps } from '../../bench/lab-steps.js';

export const STEPS = ['nat', 'fullnat', 'writer', 'whole', 'synproxy', 'bare', 'rsdev'] as const;
export type Step = (typeof STEPS)[number];

const PORT = 8080;
const ROUNDS = Number(process.env.TOA_BENCH_ROUNDS ?? 6);
const SECONDS = Number(process.env.TOA_BENCH_SECONDS ?? 3);

async function main(): Promise<void> {
  const loopPath = process.env.TOA_LOOP;
  if (!loopPath) throw new Error('fullnat-steps: TOA_LOOP (test/bench/build/accept-loop) is not set');
  const lab = await createLab({ offload: true });
  try {
    // In the lab's cgroup, where the real server's eBPF path sees it.
    const loop = lab.spawn('realserver', [loopPath, String(PORT)], { cgroup: true });
    await loop.waitFor(/listening/, 180_000);
    await lab.tuneForLoad();
    // Each measure starts with no connection of the one before left on the real server.
    const measure = async () => {
      await settle(lab, PORT);
      return connRate(lab, PORT, SECONDS);
    };
    const { plainNat, writer, whole, synproxy, rsWriter } = labSteps(lab, [PORT]);
    const step: Record<Step, () => Promise<number>> = {
      nat: () => plainNat(measure),
      fullnat: measure,
      writer: () => writer(measure),
      whole: () => whole(measure),
      synproxy: () => synproxy(true)(() => rsWriter(measure)),
      bare: () => synproxy(false)(measure),
      rsdev: () => synproxy(false)(() => rsWriter(measure)),
    };
    // One unmeasured pass: the first connections of a lab pay for cold caches and tables.
    await connRate(lab, PORT, 1);
    const samples = await interleavedN(ROUNDS, STEPS.map((s) => step[s]));
    const out = Object.fromEntries(STEPS.map((s, i) => [s, samples[i]]));
    writeFileSync(join(process.env.RESULTS ?? '.', 'fullnat-steps.json'), JSON.stringify({ rounds: ROUNDS, seconds: SECONDS, steps: out }));
  } finally {
    await lab.destroy();
  }
}

// Run, not imported (bench-fullnat.ts imports its step names).
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
