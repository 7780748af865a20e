/**
 * Runs INSIDE the VM guest: what toa.ko costs. In one guest run, alternating
 * rounds with the module unloaded and loaded, all through the lab's director
 * (FullNAT and its TOA writer, so every connection carries a TOA):
 *   - connections/s (wrk, one request per connection) to a lean C accept loop
 *     (test/bench/accept-loop.c, which calls getpeername() on each too) and to
 *     the Node peer-echo server (which reads remoteAddress);
 *   - the time of one getpeername() on a connection with a record (the
 *     rewritten path) versus the same call without the module, and the same
 *     through the ftrace ops path (getname_direct=0) that hosts without the
 *     direct call take. These come from their own phase: short cycles of the
 *     three states back to back, so that each cycle's differences are taken
 *     within seconds of each other; the overhead is the median of the
 *     per-cycle differences, each measure first scaled to its cycle's
 *     unloaded one by a control (getpeername() on a Unix socket pair, timed
 *     between the batches). On the instruction clock (test/vm/bench.ts's
 *     default) every cycle gives the same figures and the control's scaling
 *     changes nothing; on the host's clock the emulated guest's speed drifts
 *     twofold over minutes, and within a cycle too.
 *   - with TOA_KO_AGAINST (another build of toa.ko, an earlier revision's),
 *     that module too as a fourth state of each getpeername() cycle: a change
 *     to the module measured against what it replaces in the same guest.
 * Writes $RESULTS/bench.json.
 *
 * Env: TOA_KO, TOA_KO_AGAINST (optional), TOA_SEND, TOA_GPB (getpeername-bench), TOA_LOOP (accept-loop),
 * RESULTS, TOA_BENCH_ROUNDS (default 6), TOA_BENCH_SECONDS (per measure, default 3),
 * TOA_BENCH_CYCLES (getpeername() cycles, default 15).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ADDR, createLab } from '../../lab/index.js';
import { connRate } from '../../bench/conn-rate.js';
import { dropKernelRsts, insmod, insmodKo, loaded, median, rmmod, send } from './common.js';

const GPB = process.env.TOA_GPB ?? '';
/** Waits for a server in the guest: an emulated guest on a busy host starts Node slowly. */
const SLOW = 180_000;
const LOOP = process.env.TOA_LOOP ?? '';
const AGAINST = process.env.TOA_KO_AGAINST ?? '';
const ROUNDS = Number(process.env.TOA_BENCH_ROUNDS ?? 6);
const SECONDS = Number(process.env.TOA_BENCH_SECONDS ?? 3);
const TRUST = `trust=${ADDR.lip4}/32,${ADDR.lip6}/128`;
const CYCLES = Number(process.env.TOA_BENCH_CYCLES ?? 15);
const GPB_CALLS = 100_000;
const LEAN_PORT = 8080;
const NODE_PORT = 80;

type ModuleState = 'without' | 'with' | 'ops' | 'against';
let state: ModuleState = loaded() ? 'with' : 'without';

function setModule(want: ModuleState): void {
  if (want === state) return;
  if (loaded()) rmmod();
  if (want === 'against') assert.equal(insmodKo(AGAINST, TRUST).code, 0, `insmod ${AGAINST}`);
  else if (want !== 'without') assert.equal(insmod(TRUST, ...(want === 'ops' ? ['getname_direct=0'] : [])).code, 0, `insmod (${want})`);
  state = want;
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
  const states = AGAINST ? (['without', 'with', 'ops', 'against'] as const) : (['without', 'with', 'ops'] as const);
  const gpb = lab.spawn('realserver', [GPB, '-p', '9000', '-n', String(GPB_CALLS), '-c', String(states.length * CYCLES)]);
  await gpb.waitFor(/^listening/m, SLOW);
  const lean = samples();
  const node = samples();
  // getpeername() ns per call by state, and the control's (the same call on a Unix socket pair) beside each.
  const byState = (): Record<ModuleState, number[]> => ({ without: [], with: [], ops: [], against: [] });
  const gns = byState();
  const ctl = byState();
  const peers = new Set<string>();
  const getpeername = async (): Promise<{ ns: number; ctlNs: number }> => {
    const g = await send(lab, 'client', ADDR.client4, ADDR.vip4, 9000, '', 'ack', ['-r', '', '-t', '30000']);
    peers.add(`${state} ${g.peer}:${g.port}`);
    return g;
  };
  // getpeername() first: the connection rounds leave tens of thousands of TIME_WAIT sockets and
  // conntrack entries whose expiry runs for minutes after them, in the guest's time.
  for (let cycle = 0; cycle < CYCLES; cycle++) {
    // The states in a rotating order, reversed every other cycle: none always comes first after a
    // reload, and none always follows the same state (an insmod after rmmod, or after nothing).
    const order = states.map((_, i, a) => a[(i + cycle) % a.length]);
    if (cycle % 2) order.reverse();
    for (const key of order) {
      setModule(key);
      const v = await getpeername();
      gns[key].push(v.ns);
      ctl[key].push(v.ctlNs);
    }
  }
  // A discarded warm-up in both states: the guest's first connections run slower (caches, JIT, and
  // the emulator translating the module's code and the call sites ftrace patched on first use).
  for (const key of ['with', 'without'] as const) {
    setModule(key);
    await connRate(lab, LEAN_PORT, 2);
    await connRate(lab, NODE_PORT, 2);
  }
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate which goes first so drift in the guest's speed favours neither.
    for (const key of round % 2 ? (['with', 'without'] as const) : (['without', 'with'] as const)) {
      setModule(key);
      lean[key].push(await connRate(lab, LEAN_PORT, SECONDS));
      node[key].push(await connRate(lab, NODE_PORT, SECONDS));
    }
  }
  setModule('without');
  // The rewritten paths were measured: with the module the bench's connections showed their TOA client.
  for (const key of states.slice(1)) assert.ok([...peers].some((p) => p.startsWith(`${key} ::ffff:${ADDR.client4}:`)), [...peers].join(', '));
  const ratio = (s: Samples): number => Number((median(s.with) / median(s.without)).toFixed(3));
  // Each round measured both states within seconds: its own ratio escapes the guest's drift between rounds.
  const paired = (s: Samples): number => Number(median(s.with.map((x, i) => x / s.without[i])).toFixed(3));
  // The median per-cycle difference a - b, each measure first brought to the speed of its cycle's
  // unloaded one by its control's ratio (raw: ctl.without as both controls, no scaling).
  const difference = (a: ModuleState, ca: number[], b: ModuleState, cb: number[]): number =>
    Number(median(gns[a].map((x, i) => ((x * ctl.without[i]) / ca[i]) - (gns[b][i] * ctl.without[i]) / cb[i])).toFixed(1));
  const overhead = (s: ModuleState, c = ctl[s]): number => difference(s, c, 'without', ctl.without);
  const out = {
    rounds: ROUNDS,
    seconds: SECONDS,
    lean: { without: Math.round(median(lean.without)), with: Math.round(median(lean.with)), ratio: ratio(lean), paired: paired(lean) },
    node: { without: Math.round(median(node.without)), with: Math.round(median(node.with)), ratio: ratio(node), paired: paired(node) },
    getpeernameNs: {
      without: Number(median(gns.without).toFixed(1)),
      with: Number(median(gns.with).toFixed(1)),
      overhead: overhead('with'),
      rawOverhead: overhead('with', ctl.without),
      ops: Number(median(gns.ops).toFixed(1)),
      opsOverhead: overhead('ops'),
      rawOpsOverhead: overhead('ops', ctl.without),
      cycles: CYCLES,
      // The other build: its own overhead, and what this build saves on it cycle by cycle (both scaled).
      against: AGAINST
        ? {
            ns: Number(median(gns.against).toFixed(1)),
            overhead: overhead('against'),
            saved: difference('against', ctl.against, 'with', ctl.with),
          }
        : undefined,
    },
    peers: [...peers],
    raw: { lean, node, ns: { with: gns.with, without: gns.without }, nsOps: gns.ops, nsAgainst: gns.against, ctl },
  };
  writeFileSync(join(process.env.RESULTS ?? '/tmp', 'bench.json'), JSON.stringify(out, null, 1));
  process.stdout.write(`${JSON.stringify(out)}\n`);
} finally {
  await lab.destroy();
}
