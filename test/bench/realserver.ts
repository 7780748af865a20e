/**
 * Real-server benchmark: connection rate (wrk, Connection: close) through the
 * director (TOA writer attached throughout) to a C accept loop and to the
 * Node peer-echo app, both in the real server's cgroup, with the real
 * server's eBPF programs attached vs detached, interleaved in one run.
 *
 * Part of `npm run bench`; alone: tsx test/bench/realserver.ts
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLab, REPO_ROOT } from '../lab/index.js';
import { connRate } from './conn-rate.js';
import { interleaved, row, table, type Row } from './stats.js';

const C_PORT = 8080;
const NODE_PORT = 80;

export async function benchRealserver(opts: { rounds?: number; seconds?: number } = {}): Promise<Row[]> {
  const rounds = opts.rounds ?? 9;
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
    const on = async (f: () => Promise<number>): Promise<number> => {
      await lab.attachRealserver();
      try {
        return await f();
      } finally {
        await lab.detachRealserver();
      }
    };
    const measure = (port: number) =>
      interleaved(rounds, () => connRate(lab, port, seconds), () => on(() => connRate(lab, port, seconds)));
    const rows = [
      row('realserver: connections/s, C accept loop', 'c/s', 'higher', await measure(C_PORT), '>= 0.98'),
      row('realserver: connections/s, Node (reads remoteAddress)', 'c/s', 'higher', await measure(NODE_PORT), '>= 0.98'),
    ];
    return rows;
  } finally {
    await lab.destroy();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  benchRealserver()
    .then((rows) => process.stdout.write(table('Real-server eBPF path: attached vs detached (director writer on)', rows) + '\n'))
    .catch((e) => {
      process.stderr.write(`bench: ${e instanceof Error ? e.stack : e}\n`);
      process.exit(1);
    });
}
