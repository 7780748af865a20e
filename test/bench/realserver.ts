/**
 * Real-server benchmark: connection rate (wrk, Connection: close) through the
 * director (TOA writer attached throughout) to a C accept loop and to the
 * Node peer-echo app, both in the real server's cgroup, with the real
 * server's eBPF programs attached vs detached, interleaved in one run; then
 * the programs' own time per connection by bpf_stats, net of empty programs
 * (prog-cost.ts).
 *
 * Part of `npm run bench`; alone: tsx test/bench/realserver.ts
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLab, REPO_ROOT } from '../lab/index.js';
import { connRate } from './conn-rate.js';
import { labSteps } from './lab-steps.js';
import { progCost } from './prog-cost.js';
import { interleaved, median, row, table, type Row } from './stats.js';

const C_PORT = 8080;
const NODE_PORT = 80;

export async function benchRealserver(opts: { rounds?: number; seconds?: number; costRounds?: number } = {}): Promise<Row[]> {
  const rounds = opts.rounds ?? 9;
  const costRounds = opts.costRounds ?? 3;
  const seconds = opts.seconds ?? 3;
  const loop = join(REPO_ROOT, 'test/bench/build/accept-loop');
  if (!existsSync(loop)) execFileSync('make', ['-s', '-C', join(REPO_ROOT, 'test/bench')], { stdio: 'inherit' });
  const lab = await createLab();
  try {
    const c = lab.spawn('realserver', [loop, String(C_PORT)], { cgroup: true });
    await c.waitFor(/listening/);
    await lab.startPeerEcho({ port: NODE_PORT });
    await lab.attachWriter({ ports: [C_PORT, NODE_PORT] });
    await lab.tuneForLoad();
    const on = labSteps(lab, [C_PORT, NODE_PORT]).realserver;
    const measure = (port: number) =>
      interleaved(rounds, () => connRate(lab, port, seconds), () => on(() => connRate(lab, port, seconds)));
    const rows = [
      row('realserver: connections/s, C accept loop', 'c/s', 'higher', await measure(C_PORT), '>= 0.98'),
      row('realserver: connections/s, Node (reads remoteAddress)', 'c/s', 'higher', await measure(NODE_PORT), '>= 0.98'),
    ];
    // The programs' own time per connection (bpf_stats), the Node app's connections: they call getpeername.
    const costs = await on(async () => {
      const out = [];
      for (let i = 0; i < costRounds; i++) out.push(await progCost(lab, NODE_PORT, seconds));
      return out;
    });
    const net = median(costs.map((c) => c.toa - c.empty));
    rows.push(
      row(
        `realserver: BPF ns/connection (bpf_stats; baseline: empty programs; ${median(costs.map((c) => c.sockopsCalls)).toFixed(1)} sockops calls)`,
        'ns',
        'lower',
        { baseline: costs.map((c) => c.empty), feature: costs.map((c) => c.toa) },
        `net ${Math.round(net)} ns <= 800`,
      ),
    );
    return rows;
  } finally {
    await lab.destroy();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const n = (name: string): number | undefined => {
    const v = process.env[name];
    return v ? Number(v) : undefined;
  };
  // BENCH_ROUNDS, BENCH_SECONDS, BENCH_COST_ROUNDS: a shorter run while working on the programs.
  benchRealserver({ rounds: n('BENCH_ROUNDS'), seconds: n('BENCH_SECONDS'), costRounds: n('BENCH_COST_ROUNDS') })
    .then((rows) => process.stdout.write(table('Real-server eBPF path: attached vs detached (director writer on)', rows) + '\n'))
    .catch((e) => {
      process.stderr.write(`bench: ${e instanceof Error ? e.stack : e}\n`);
      process.exit(1);
    });
}
