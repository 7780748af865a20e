/**
 * A pool of LIPs: the director SNATs to a range of addresses (one LIP gives at
 * most 65,536 source ports toward one real server port), the real server
 * trusts the pool's prefix, and every connection, whichever LIP it left from,
 * shows its own client to the app.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADDR, createLab, extraClient4, extraClient6, labUnavailable, LIP_POOL, type Lab } from '../lab/index.js';

const why = labUnavailable();
// netfilter picks a pool address by a hash of the client and real-server addresses: many clients spread over it.
const CLIENTS = 32;
const CONNECTIONS = 256;

const onDual = (a: string): string => (a.includes(':') ? a : `::ffff:${a}`);

describe.skipIf(why)(`LIP pool${why ? ` (skipped: ${why})` : ''}`, () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = await createLab({ lipPool: true, extraClients: CLIENTS });
    await lab.startPeerEcho({ port: 80 });
    await lab.attachWriter();
    await lab.attachRealserver();
  });

  afterAll(async () => {
    await lab?.destroy();
  });

  it('the real server trusts exactly the pool (no neighbour on its link)', async () => {
    expect((await lab.realserverStatus()).trust).toEqual([...LIP_POOL.trust]);
  });

  it.each([
    ['IPv4', `http://${ADDR.vip4}/`, [ADDR.client4, ...Array.from({ length: CLIENTS }, (_, i) => extraClient4(i))], LIP_POOL.v4],
    ['IPv6', `http://[${ADDR.vip6}]/`, [ADDR.client6, ...Array.from({ length: CLIENTS }, (_, i) => extraClient6(i))], LIP_POOL.v6],
  ])('%s: connections spread over every LIP of the pool, and each shows its own client', async (_f, url, locals, pool) => {
    const cap = await lab.capture('realserver', 'eth0', 'tcp dst port 80');
    const rs = await lab.httpClient(['--url', url, '--count', String(CONNECTIONS), '--concurrency', '16', '--close', ...locals.flatMap((l) => ['--local', l])]);
    const segs = await cap.stop();
    const wrong = rs.filter((r) => r.error || r.body?.remoteAddress !== onDual(r.localAddress!) || r.body?.remotePort !== r.localPort);
    expect(wrong.slice(0, 3)).toEqual([]);
    expect(rs.length).toBe(CONNECTIONS);
    const perLip = new Map<string, number>();
    for (const s of segs.filter((s) => s.flags.syn && !s.flags.ack)) perLip.set(s.src, (perLip.get(s.src) ?? 0) + 1);
    // Every LIP of the pool and nothing else (tcpdump on a loaded machine may miss a few SYNs: no exact count).
    expect([...perLip.keys()].sort()).toEqual([...pool].sort());
  });
});
