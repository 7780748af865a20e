/**
 * SYNPROXY benchmark (issue 14), IPv4, one run:
 *
 * - A bounded spoofed SYN flood (test/tools/synflood from 16 client-side
 *   addresses, as fast as one core sends, 4 s) while legitimate clients
 *   open connections to an app that reports its peer: how many succeed and
 *   name their own client, at what rate, how many half-open sockets the
 *   real server holds mid-flood, and how much writer state the flood made.
 *   Without SYNPROXY (the plain FullNAT recipe and the writer) vs with it
 *   (the SYNPROXY recipe and --rs-dev), each in a fresh lab so one flood's
 *   conntrack entries do not weigh on the other.
 * - Connection rate with no flood (wrk), SYNPROXY on vs off, interleaved,
 *   and SYNPROXY without the writer (whose own ACK the real server rejects
 *   for its TSecr: see bpf/director/README.md).
 *
 * The spoofed addresses are muted (lab.muteExtraClients): like absent hosts
 * they answer nothing, so the half-open state a SYN makes is not freed by a
 * RST.
 */
import { join } from 'node:path';
import { ADDR, createLab, extraClient4, REPO_ROOT, type Lab } from '../lab/index.js';
import { connRate, settle } from './conn-rate.js';
import { labSteps } from './lab-steps.js';
import { interleaved, row, type Row } from './stats.js';

const HTTP_PORT = 80;
const WRK_PORT = 8080;
const SPOOFED = 16;
const LEGIT = 80;
const SYNFLOOD = join(REPO_ROOT, 'test/tools/build/synflood');

interface FloodResult {
  sent: number;
  floodRate: number;
  ok: number;
  named: number;
  lip: number;
  legitRate: number;
  halfOpen: number;
  writerFlows: number;
}

async function withSynproxy(lab: Lab, on: boolean, ports: number[]): Promise<void> {
  await lab.setSynproxy(on ? {} : null);
  await lab.attachWriter({ ports, rsDev: on });
}

/** One flood in a fresh lab: legitimate connections (2 at a time) while synflood runs. */
async function flood(on: boolean): Promise<FloodResult> {
  const lab = await createLab({ extraClients: SPOOFED });
  try {
    await lab.muteExtraClients(SPOOFED);
    await withSynproxy(lab, on, [HTTP_PORT]);
    await lab.attachRealserver();
    await lab.startPeerEcho({ port: HTTP_PORT });
    const sources = Array.from({ length: SPOOFED }, (_, i) => ['--src', extraClient4(i)]).flat();
    const f = lab.execOk('client', [SYNFLOOD, '--dst', ADDR.vip4, '--port', String(HTTP_PORT), ...sources, '--count', '2000000', '--seconds', '4'], {
      timeoutMs: 60_000,
    });
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    const legit = lab.httpClient(['--url', `http://${ADDR.vip4}:${HTTP_PORT}/`, '--count', String(LEGIT), '--concurrency', '2'], 'client', 300_000);
    await new Promise((r) => setTimeout(r, 1500));
    const halfOpen = (await lab.execOk('realserver', ['ss', '-Htn', 'state', 'syn-recv'])).trim().split('\n').filter(Boolean).length;
    const st = await lab.writerStatus();
    const [stats, results] = await Promise.all([f.then((o) => JSON.parse(o)), legit]);
    const secs = (Date.now() - t0) / 1000;
    const ok = results.filter((r) => !r.error && r.status === 200);
    return {
      sent: stats.sent,
      floodRate: stats.rate,
      ok: ok.length,
      named: ok.filter((r) => r.body.remoteAddress.replace(/^::ffff:/, '') === r.localAddress && r.body.remotePort === r.localPort).length,
      lip: ok.filter((r) => r.body.remoteAddress.replace(/^::ffff:/, '') === ADDR.lip4).length,
      legitRate: ok.length / secs,
      halfOpen,
      writerFlows: st.flows.used + (st.rs?.flows.used ?? 0),
    };
  } finally {
    await lab.destroy();
  }
}

export async function benchSynproxy(opts: { rounds?: number; seconds?: number } = {}): Promise<Row[]> {
  const rounds = opts.rounds ?? 4;
  const seconds = opts.seconds ?? 3;
  const off = await flood(false);
  const on = await flood(true);
  const one = (b: number, f: number) => ({ baseline: [b], feature: [f] });
  process.stderr.write(
    `synproxy bench: flood without SYNPROXY ${off.sent} SYNs at ${off.floodRate.toFixed(0)}/s, with ${on.sent} at ${on.floodRate.toFixed(0)}/s\n`,
  );
  const rows = [
    row(`flood: legitimate connections that succeed (of ${LEGIT}), %`, '%', 'higher', one((100 * off.ok) / LEGIT, (100 * on.ok) / LEGIT), '>= 99 with'),
    row('flood: of those, naming their own client, %', '%', 'higher', one(off.ok ? (100 * off.named) / off.ok : 0, on.ok ? (100 * on.named) / on.ok : 0), '100'),
    row('flood: connections showing the LIP', '', 'lower', one(off.lip, on.lip), '0'),
    row('flood: legitimate connections/s', 'c/s', 'higher', one(off.legitRate, on.legitRate)),
    row('flood: half-open sockets on the real server', '', 'lower', one(off.halfOpen, on.halfOpen), '0 with'),
    row('flood: writer flow entries mid-flood', '', 'lower', one(off.writerFlows, on.writerFlows)),
    row('flood: spoofed SYNs sent (rate: SYNs/s)', '/s', 'higher', one(off.floodRate, on.floodRate)),
  ];
  // No flood: connection rate through each recipe, interleaved in one lab.
  const lab = await createLab();
  try {
    const http = lab.spawn('realserver', [join(REPO_ROOT, 'test/bench/build/accept-loop'), String(WRK_PORT)], { cgroup: true });
    await http.waitFor(/listening/);
    await lab.tuneForLoad();
    // writer: false measures SYNPROXY alone, to part its own cost from the --rs-dev writer's.
    const steps = labSteps(lab, [WRK_PORT]);
    const variant = (on: boolean, writer = true, timestamp = true) => async (): Promise<number> => {
      await settle(lab, WRK_PORT);
      const measure = () => connRate(lab, WRK_PORT, seconds);
      const withWriter = () => (writer ? (on ? steps.rsWriter : steps.writer)(measure) : measure());
      return on ? steps.synproxy(timestamp)(withWriter) : withWriter();
    };
    rows.push(row('no flood: connections/s (wrk), SYNPROXY + --rs-dev vs FullNAT + writer', 'c/s', 'higher', await interleaved(rounds, variant(false), variant(true)), '>= 0.95'));
    // The writer's own share, where SYNPROXY's ACK is not rejected without it (no timestamps: no TSecr to get wrong).
    rows.push(row('no flood: --rs-dev writer vs none, behind SYNPROXY without timestamps', 'c/s', 'higher', await interleaved(rounds, variant(true, false, false), variant(true, true, false))));
    // Last, as it leaves the real server retransmitting SYN-ACKs: SYNPROXY's own ACK is rejected there without the writer's TSecr fix.
    rows.push(row('no flood: SYNPROXY without the writer vs with --rs-dev (TSecr)', 'c/s', 'higher', await interleaved(2, variant(true), variant(true, false))));
  } finally {
    await lab.destroy();
  }
  return rows;
}
