/**
 * The director writer's own cost per packet, from the kernel's bpf_stats
 * (run count and run time of each program), over one fixed workload in the
 * lab: short HTTP requests, a 10 MB upload to a silent server and a 10 MB
 * download, IPv4. Prints each program's ns per run and how many segments
 * carried a TOA. With --synproxy, behind the lab's SYNPROXY recipe with
 * --rs-dev: the real-server-facing programs too.
 *
 *   tsx test/bench/director-cost.ts [--rounds N] [--synproxy]
 *
 * bpf_stats is switched on for the run (kernel.bpf_stats_enabled) and back to
 * what it was after. Times are medians over the rounds.
 */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { ADDR, createLab, run, type Lab } from '../lab/index.js';
import { median } from './stats.js';

const PORT = 80;
const MB10 = 10_000_000;
const STATS = '/proc/sys/kernel/bpf_stats_enabled';

/** A pinned program's bpf_stats; the rs programs' pins are read the same way (director/rs_ingress, rs_egress). */
async function progStats(lab: Lab, name: string): Promise<{ cnt: number; ns: number }> {
  const p = JSON.parse((await run(['bpftool', '-j', 'prog', 'show', 'pinned', join(lab.pinDir, 'director', name)])).stdout);
  return { cnt: p.run_cnt ?? 0, ns: p.run_time_ns ?? 0 };
}

async function round(lab: Lab, progs: string[], rsDev: boolean): Promise<Record<string, number>> {
  await lab.attachWriter({ ports: [PORT], rsDev });
  try {
    const stats = async () => Object.fromEntries(await Promise.all(progs.map(async (n) => [n, await progStats(lab, n)] as const)));
    const before = await stats();
    const c0 = (await lab.writerStatus()).counters;
    await lab.httpClient(['--url', `http://${ADDR.vip4}:${PORT}/`, '--count', '200', '--concurrency', '10', '--close']);
    await lab.httpClient(['--url', `http://${ADDR.vip4}:${PORT}/`, '--post-bytes', String(MB10)]);
    await lab.httpClient(['--url', `http://${ADDR.vip4}:${PORT}/bytes/${MB10}`, '--expect-bytes', String(MB10)]);
    const after = await stats();
    const c1 = (await lab.writerStatus()).counters;
    const out: Record<string, number> = { written: c1.written_v4 - c0.written_v4 };
    for (const n of progs) {
      const cnt = after[n].cnt - before[n].cnt;
      const ns = after[n].ns - before[n].ns;
      Object.assign(out, { [`${n}Runs`]: cnt, [`${n}Ns`]: cnt ? ns / cnt : 0, [`${n}Us`]: ns / 1000 });
    }
    return out;
  } finally {
    await lab.detachWriter();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, synproxy: { type: 'boolean', default: false } } });
  const progs = values.synproxy ? ['ingress', 'egress', 'rs_ingress', 'rs_egress'] : ['ingress', 'egress'];
  const was = readFileSync(STATS, 'utf8').trim();
  writeFileSync(STATS, '1');
  const lab = await createLab();
  try {
    await lab.startPeerEcho({ host: '::', port: PORT });
    if (values.synproxy) await lab.setSynproxy({});
    const rs: Record<string, number>[] = [];
    for (let i = 0; i < Number(values.rounds); i++) rs.push(await round(lab, progs, values.synproxy));
    const m = (k: string) => median(rs.map((r) => r[k]));
    console.log('director writer%s, per run (bpf_stats, median of %d rounds; 200 connections, 10 MB up, 10 MB down, IPv4):', values.synproxy ? ' behind SYNPROXY with --rs-dev' : '', rs.length);
    for (const n of progs) console.log(`  ${`${n}:`.padEnd(11)} ${m(`${n}Ns`).toFixed(0)} ns/run over ${m(`${n}Runs`)} runs, ${m(`${n}Us`).toFixed(0)} us in all`);
    console.log(`  segments written${values.synproxy ? ' (by the rs side: the client side only strips and clamps)' : ''}: ${m('written')}`);
  } finally {
    await lab.destroy();
    writeFileSync(STATS, was);
  }
}

void main().catch((e) => {
  process.stderr.write(`director-cost: ${e instanceof Error ? e.stack : e}\n`);
  process.exit(1);
});
