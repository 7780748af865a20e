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
 *
 * Then each program's cost per segment shape, without the traffic's noise:
 * BPF_PROG_TEST_RUN (bpftool prog run, a million repeats) on crafted
 * segments, net of an empty tc program run the same way. These run warm
 * (caches hot, no flow for the segment): a floor, not what traffic pays.
 */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { ADDR, createLab, run, type Lab } from '../lab/index.js';
import { median } from './stats.js';
import { REPO_ROOT } from '../lab/index.js';

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

/** An Ethernet frame: IPv4 or IPv6, then TCP with options and len bytes of payload. Checksums stay 0: the programs never check them. */
function frame(v6: boolean, src: string, dst: string, sport: number, dport: number, flags: number, opts: number[], len: number): Buffer {
  const tcp = Buffer.alloc(20 + opts.length + len);
  tcp.writeUInt16BE(sport, 0);
  tcp.writeUInt16BE(dport, 2);
  tcp.writeUInt32BE(1000, 4);
  tcp.writeUInt32BE(2000, 8);
  tcp[12] = ((20 + opts.length) / 4) << 4;
  tcp[13] = flags;
  tcp.writeUInt16BE(65535, 14);
  Buffer.from(opts).copy(tcp, 20);
  const addr = (a: string) => (v6 ? ipv6Bytes(a) : Buffer.from(a.split('.').map(Number)));
  let ip: Buffer;
  if (v6) {
    ip = Buffer.alloc(40);
    ip[0] = 0x60;
    ip.writeUInt16BE(tcp.length, 4);
    ip[6] = 6;
    ip[7] = 64;
    addr(src).copy(ip, 8);
    addr(dst).copy(ip, 24);
  } else {
    ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip.writeUInt16BE(20 + tcp.length, 2);
    ip[8] = 64;
    ip[9] = 6;
    addr(src).copy(ip, 12);
    addr(dst).copy(ip, 16);
  }
  const eth = Buffer.from([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, ...(v6 ? [0x86, 0xdd] : [0x08, 0x00])]);
  return Buffer.concat([eth, ip, tcp]);
}

function ipv6Bytes(a: string): Buffer {
  const [head, tail] = a.split('::');
  const words = (x: string | undefined) => (x ? x.split(':').map((w) => parseInt(w, 16)) : []);
  const h = words(head), t = words(tail);
  const all = [...h, ...Array(8 - h.length - t.length).fill(0), ...t];
  const b = Buffer.alloc(16);
  all.forEach((w, i) => b.writeUInt16BE(w, i * 2));
  return b;
}

const ACK = 0x10, PSH_ACK = 0x18, SYN = 0x02;
const TS = [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2];
const SYN_OPTS = [2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7];

/** The common segments, each with the program that sees it. */
const SHAPES: { name: string; prog: string; pkt: Buffer }[] = [
  { name: 'client ACK, timestamps (a download\'s ACKs)', prog: 'ingress', pkt: frame(false, ADDR.client4, ADDR.vip4, 40000, PORT, ACK, TS, 0) },
  { name: 'client data, 200 bytes', prog: 'ingress', pkt: frame(false, ADDR.client4, ADDR.vip4, 40000, PORT, PSH_ACK, TS, 200) },
  { name: 'client ACK, IPv6', prog: 'ingress', pkt: frame(true, ADDR.client6, ADDR.vip6, 40000, PORT, ACK, TS, 0) },
  { name: 'client SYN (Linux options)', prog: 'ingress', pkt: frame(false, ADDR.client4, ADDR.vip4, 40000, PORT, SYN, SYN_OPTS, 0) },
  { name: 'server data, 1448 bytes', prog: 'egress', pkt: frame(false, ADDR.vip4, ADDR.client4, PORT, 40000, ACK, TS, 1448) },
  { name: 'server data, IPv6, 1428 bytes', prog: 'egress', pkt: frame(true, ADDR.vip6, ADDR.client6, PORT, 40000, ACK, TS, 1428) },
];

async function testRunNs(pin: string, file: string): Promise<number> {
  const r = await run(['bpftool', 'prog', 'run', 'pinned', pin, 'data_in', file, 'repeat', '1000000']);
  const m = /duration \(average\): (\d+)ns/.exec(r.stdout + r.stderr);
  if (!m) throw new Error(`bpftool prog run ${pin}: no duration in ${JSON.stringify(r.stdout + r.stderr)}`);
  return Number(m[1]);
}

/** ns per run of each shape, net of an empty tc program, median of rounds. */
async function segmentCosts(lab: Lab, rounds: number): Promise<{ name: string; prog: string; ns: number }[]> {
  const dir = mkdtempSync(join(tmpdir(), 'toa-segs-'));
  const pins = join('/sys/fs/bpf', `${lab.id}-empty-tc`);
  await lab.attachWriter({ ports: [PORT] });
  try {
    await run(['bpftool', 'prog', 'loadall', join(REPO_ROOT, 'test/bench/build/empty.bpf.o'), pins]);
    const files = SHAPES.map((sh, i) => {
      const f = join(dir, `seg${i}`);
      writeFileSync(f, sh.pkt);
      return f;
    });
    const out: number[][] = SHAPES.map(() => []);
    for (let r = 0; r < rounds; r++) {
      const empty = await testRunNs(join(pins, 'empty_tc'), files[0]);
      for (const [i, sh] of SHAPES.entries()) out[i].push((await testRunNs(join(lab.pinDir, 'director', sh.prog), files[i])) - empty);
    }
    return SHAPES.map((sh, i) => ({ name: sh.name, prog: sh.prog, ns: median(out[i]) }));
  } finally {
    await lab.detachWriter();
    rmSync(pins, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
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
    console.log('per segment shape, warm (BPF_PROG_TEST_RUN, net of an empty tc program, median of %d rounds):', rs.length);
    for (const c of await segmentCosts(lab, rs.length)) console.log(`  ${`${c.prog}:`.padEnd(11)} ${String(c.ns).padStart(4)} ns  ${c.name}`);
  } finally {
    await lab.destroy();
    writeFileSync(STATS, was);
  }
}

void main().catch((e) => {
  process.stderr.write(`director-cost: ${e instanceof Error ? e.stack : e}\n`);
  process.exit(1);
});
