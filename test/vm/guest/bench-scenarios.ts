/**
 * Runs INSIDE the VM guest: what toa.ko costs. In one guest run, alternating
 * rounds with the module unloaded and loaded, all through the lab's director
 * (FullNAT and its TOA writer, so every connection carries a TOA):
 *   - connections/s (wrk, one request per connection) to a lean C accept loop
 *     (test/bench/accept-loop.c, which calls getpeername() on each too) and to
 *     the Node peer-echo server (which reads remoteAddress);
 *   - the time of one getpeername() on a connection with a record (the
 *     rewritten path) versus the same call without the module.
 * Writes $RESULTS/bench.json.
 *
 * Env: TOA_KO, TOA_SEND, TOA_GPB (getpeername-bench), TOA_LOOP (accept-loop),
 * RESULTS, TOA_BENCH_ROUNDS (default 6), TOA_BENCH_SECONDS (per measure, default 3).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ADDR, createLab } from '../../lab/index.js';
import { connRate } from '../../bench/conn-rate.js';
import { dropKernelRsts, insmod, loaded, median, rmmod, send } from './common.js';

const GPB = process.env.TOA_GPB ?? '';
/** Waits for a server in the guest: an emulated guest on a busy host starts Node slowly. */
const SLOW = 180_000;
const LOOP = process.env.TOA_LOOP ?? '';
const ROUNDS = Number(process.env.TOA_BENCH_ROUNDS ?? 6);
const SECONDS = Number(process.env.TOA_BENCH_SECONDS ?? 3);
const TRUST = `trust=${ADDR.lip4}/32,${ADDR.lip6}/128`;
const GPB_CALLS = 200_000;
const LEAN_PORT = 8080;
const NODE_PORT = 80;

function setModule(on: boolean): void {
  if (on && !loaded()) assert.equal(insmod(TRUST).code, 0, 'insmod');
  if (!on && loaded()) rmmod();
}

type Samples = Record<'with' | 'without', number[]>;
const samples = (): Samples => ({ with: [], without: [] });

const lab = await createLab();
try {
  await dropKernelRsts(lab, 'client');
  await lab.tuneForLoad();
  const loop = lab.spawn('realserver', [LOOP, String(LEAN_PORT), 'getpeername']);
  await loop.waitFor(/listening/, SLOW);
  await lab.startPeerEcho({ port: NODE_PORT, timeoutMs: SLOW });
  // The getpeername() connection too: the writer overwrites any hand-made TOA bound for the VIP, so it writes this one's.
  await lab.attachWriter({ ports: [LEAN_PORT, NODE_PORT, 9000] });
  const gpb = lab.spawn('realserver', [GPB, '-p', '9000', '-n', String(GPB_CALLS), '-c', String(2 * ROUNDS)]);
  await gpb.waitFor(/^listening/m, SLOW);
  const lean = samples();
  const node = samples();
  const ns = samples();
  const peers = new Set<string>();
  // A discarded warm-up: the guest's first connections run slower (caches, JIT).
  setModule(false);
  await connRate(lab, LEAN_PORT, 1);
  await connRate(lab, NODE_PORT, 1);
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate which goes first so drift in the guest's speed favours neither.
    for (const on of round % 2 ? [true, false] : [false, true]) {
      setModule(on);
      const key = on ? 'with' : 'without';
      lean[key].push(await connRate(lab, LEAN_PORT, SECONDS));
      node[key].push(await connRate(lab, NODE_PORT, SECONDS));
      const g = await send(lab, 'client', ADDR.client4, ADDR.vip4, 9000, '', 'ack', ['-r', '', '-t', '30000']);
      ns[key].push(g.ns);
      peers.add(`${key} ${g.peer}:${g.port}`);
    }
  }
  setModule(false);
  // The rewritten path was measured: with the module the bench's connection showed its TOA client.
  assert.ok([...peers].some((p) => p.startsWith(`with ::ffff:${ADDR.client4}:`)), [...peers].join(', '));
  const ratio = (s: Samples): number => Number((median(s.with) / median(s.without)).toFixed(3));
  const out = {
    rounds: ROUNDS,
    seconds: SECONDS,
    lean: { without: Math.round(median(lean.without)), with: Math.round(median(lean.with)), ratio: ratio(lean) },
    node: { without: Math.round(median(node.without)), with: Math.round(median(node.with)), ratio: ratio(node) },
    getpeernameNs: {
      without: Number(median(ns.without).toFixed(1)),
      with: Number(median(ns.with).toFixed(1)),
      overhead: Number((median(ns.with) - median(ns.without)).toFixed(1)),
    },
    peers: [...peers],
    raw: { lean, node, ns },
  };
  writeFileSync(join(process.env.RESULTS ?? '/tmp', 'bench.json'), JSON.stringify(out, null, 1));
  process.stdout.write(`${JSON.stringify(out)}\n`);
} finally {
  await lab.destroy();
}
