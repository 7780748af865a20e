/**
 * The director writer's own cost per packet, from the kernel's bpf_stats
 * (run count and run time of each program), over one fixed workload in the
 * lab: short HTTP requests, a 10 MB upload to a silent server and a 10 MB
 * download, IPv4. Prints each program's ns per run and how many segments
 * carried a TOA.
 *
 *   tsx test/bench/director-cost.ts [--rounds N]
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

async function progStats(lab: Lab, name: string): Promise<{ cnt: number; ns: number }> {
  const p = JSON.parse((await run(['bpftool', '-j', 'prog', 'show', 'pinned', join(lab.pinDir, 'director', name)])).stdout);
  return { cnt: p.run_cnt ?? 0, ns: p.run_time_ns ?? 0 };
}

async function round(lab: Lab): Promise<Record<string, number>> {
  await lab.attachWriter({ ports: [PORT] });
  try {
    const before = { ingress: await progStats(lab, 'ingress'), egress: await progStats(lab, 'egress') };
    const c0 = (await lab.writerStatus()).counters;
    await lab.httpClient(['--url', `http://${ADDR.vip4}:${PORT}/`, '--count', '200', '--concurrency', '10', '--close']);
    await lab.httpClient(['--url', `http://${ADDR.vip4}:${PORT}/`, '--post-bytes', String(MB10)]);
    await lab.httpClient(['--url', `http://${ADDR.vip4}:${PORT}/bytes/${MB10}`, '--expect-bytes', String(MB10)]);
    const after = { ingress: await progStats(lab, 'ingress'), egress: await progStats(lab, 'egress') };
    const c1 = (await lab.writerStatus()).counters;
    const d = (k: 'ingress' | 'egress') => ({ cnt: after[k].cnt - before[k].cnt, ns: after[k].ns - before[k].ns });
    const i = d('ingress');
    const e = d('egress');
    return {
      ingressRuns: i.cnt,
      ingressNs: i.ns / i.cnt,
      egressRuns: e.cnt,
      egressNs: e.ns / e.cnt,
      written: c1.written_v4 - c0.written_v4,
    };
  } finally {
    await lab.detachWriter();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' } } });
  const was = readFileSync(STATS, 'utf8').trim();
  writeFileSync(STATS, '1');
  const lab = await createLab();
  try {
    await lab.startPeerEcho({ host: '::', port: PORT });
    const rs: Record<string, number>[] = [];
    for (let i = 0; i < Number(values.rounds); i++) rs.push(await round(lab));
    const m = (k: string) => median(rs.map((r) => r[k]));
    console.log('director writer, per run (bpf_stats, median of %d rounds; 200 connections, 10 MB up, 10 MB down, IPv4):', rs.length);
    console.log(`  ingress: ${m('ingressNs').toFixed(0)} ns/run over ${m('ingressRuns')} runs`);
    console.log(`  egress:  ${m('egressNs').toFixed(0)} ns/run over ${m('egressRuns')} runs`);
    console.log(`  segments written: ${m('written')}`);
  } finally {
    await lab.destroy();
    writeFileSync(STATS, was);
  }
}

void main().catch((e) => {
  process.stderr.write(`director-cost: ${e instanceof Error ? e.stack : e}\n`);
  process.exit(1);
});
