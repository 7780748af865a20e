/**
 * Runs INSIDE the VM guest: what toa.ko costs. In one guest run, alternating
 * rounds with the module unloaded and loaded: the connection rate through
 * the lab (toa-send with a v4 TOA, via the director's FullNAT, to the Node
 * peer-echo server), and the time of one getpeername() on a connection that
 * has a record (the rewritten path) versus the same call without the module.
 * Writes $RESULTS/bench.json.
 *
 * Env: TOA_KO, TOA_SEND, TOA_GPB (getpeername-bench), RESULTS,
 * TOA_BENCH_ROUNDS (default 4), TOA_BENCH_CONNS (per round, default 400).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ADDR, createLab } from '../../lab/index.js';
import { dropKernelRsts, insmod, loaded, median, rmmod, send, SEND, toaHex } from './common.js';

const GPB = process.env.TOA_GPB ?? '';
const ROUNDS = Number(process.env.TOA_BENCH_ROUNDS ?? 4);
const CONNS = Number(process.env.TOA_BENCH_CONNS ?? 400);
const TRUST = `trust=${ADDR.lip4}/32,${ADDR.lip6}/128`;
const GPB_CALLS = 200_000;

function setModule(on: boolean): void {
  if (on && !loaded()) assert.equal(insmod(TRUST).code, 0, 'insmod');
  if (!on && loaded()) rmmod();
}

const lab = await createLab();
try {
  await dropKernelRsts(lab, 'client');
  await lab.startPeerEcho({ port: 80 });
  const gpb = lab.spawn('realserver', [GPB, '-p', '9000', '-n', String(GPB_CALLS), '-c', String(2 * ROUNDS)]);
  await gpb.waitFor(/^listening/m);
  const opt = toaHex(254, 4242, '198.51.100.77');
  const rate: Record<'with' | 'without', number[]> = { with: [], without: [] };
  const ns: Record<'with' | 'without', number[]> = { with: [], without: [] };
  const peers = new Set<string>();
  // A discarded warm-up round: the guest's first connections run slower (caches, JIT).
  setModule(false);
  const warm = await lab.exec('client', [SEND, '-s', ADDR.client4, '-d', ADDR.vip4, '-p', '80', '-l', '9000', '-n', String(Math.min(CONNS, 200)), '-P', '4']);
  assert.equal(warm.code, 0, warm.stderr);
  let port = 10000;
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate which goes first so drift in the guest's speed favours neither.
    for (const on of round % 2 ? [true, false] : [false, true]) {
      setModule(on);
      const key = on ? 'with' : 'without';
      const t0 = process.hrtime.bigint();
      const r = await lab.exec('client', [SEND, '-s', ADDR.client4, '-d', ADDR.vip4, '-p', '80', '-l', String(port), '-n', String(CONNS), '-P', '4'], {
        timeoutMs: 600_000,
      });
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      assert.equal(r.code, 0, r.stderr);
      port += CONNS;
      rate[key].push(CONNS / seconds);
      const g = await send(lab, 'client', ADDR.client4, ADDR.vip4, 9000, opt, 'ack', ['-r', '', '-t', '30000']);
      ns[key].push(g.ns);
      peers.add(`${key} ${g.peer}:${g.port}`);
    }
  }
  setModule(false);
  const out = {
    rounds: ROUNDS,
    connectionsPerRound: CONNS,
    connectionsPerSecond: { without: Math.round(median(rate.without)), with: Math.round(median(rate.with)) },
    ratio: Number((median(rate.with) / median(rate.without)).toFixed(3)),
    getpeernameNs: { without: Number(median(ns.without).toFixed(1)), with: Number(median(ns.with).toFixed(1)) },
    peers: [...peers],
    raw: { rate, ns },
  };
  writeFileSync(join(process.env.RESULTS ?? '/tmp', 'bench.json'), JSON.stringify(out, null, 1));
  process.stdout.write(`${JSON.stringify(out)}\n`);
} finally {
  await lab.destroy();
}
