/**
 * The whole chain: real clients (curl, the lab's TypeScript client) -> the
 * director (nftables FullNAT + the tc TOA writer) -> the real server's eBPF
 * path -> a Node app that reads socket.remoteAddress. Then 10,000 connections
 * from 80 client addresses, 200 at once: each answer names its own client.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADDR, createLab, extraClient4, extraClient6, labUnavailable, type Lab } from '../lab/index.js';

const why = labUnavailable();
// 198.51.100.20..99: the lab's extra client range runs into the VIP (.100) beyond 80.
const EXTRA = 80;

/** What a dual-stack (::) listener reports for a client address. */
const onDual = (a: string): string => (a.includes(':') ? a : `::ffff:${a}`);

describe.skipIf(why)(`real server eBPF path behind the director${why ? ` (skipped: ${why})` : ''}`, () => {
  let lab: Lab;
  const counters = async (): Promise<Record<string, number>> => (await lab.realserverStatus()).counters;

  beforeAll(async () => {
    lab = await createLab({ extraClients: EXTRA });
    await lab.startPeerEcho({ host: '::', port: 80 });
    await lab.startPeerEcho({ host: '0.0.0.0', port: 8080 });
    await lab.startPeerEcho({ host: ADDR.rs6, port: 443 });
    await lab.attachWriter();
    await lab.attachRealserver();
  });

  afterAll(async () => {
    await lab?.destroy();
  });

  it('curl sees itself: IPv4 and IPv6 clients on the dual-stack, IPv4 and IPv6 listeners', async () => {
    // curl reports the source it used (the kernel picks among the client's addresses).
    for (const [url, dual] of [
      [`http://${ADDR.vip4}/`, true],
      [`http://${ADDR.vip4}:8080/`, false],
      [`http://[${ADDR.vip6}]/`, true],
      [`http://[${ADDR.vip6}]:443/`, false],
    ] as const) {
      const r = await lab.exec('client', ['curl', '-sS', '-m', '5', '-w', '\n%{local_ip} %{local_port}', url]);
      expect(r.code, r.stderr).toBe(0);
      const [body, local] = r.stdout.split('\n');
      const [ip, port] = local.split(' ');
      expect(ip).toMatch(/^(198\.51\.100\.|2001:db8:100::)/);
      expect(JSON.parse(body)).toMatchObject({ remoteAddress: dual ? onDual(ip) : ip, remotePort: Number(port) });
    }
  });

  it('the TypeScript client sees itself from several source addresses', async () => {
    const locals4 = [ADDR.client4, extraClient4(0), extraClient4(1)];
    const res = await lab.httpClient(['--url', `http://${ADDR.vip4}:8080/`, '--count', '6', ...locals4.flatMap((l) => ['--local', l])]);
    for (const r of res) {
      expect(r.error).toBeUndefined();
      expect(r.body).toMatchObject({ remoteAddress: r.localAddress, remotePort: r.localPort });
    }
    expect(new Set(res.map((r) => r.localAddress))).toEqual(new Set(locals4));
    const locals6 = [ADDR.client6, extraClient6(0)];
    const res6 = await lab.httpClient(['--url', `http://[${ADDR.vip6}]:443/`, '--count', '4', ...locals6.flatMap((l) => ['--local', l])]);
    for (const r of res6) expect(r.body).toMatchObject({ remoteAddress: r.localAddress, remotePort: r.localPort });
  });

  it('status counts live records: one while a connection is open, none after', async (ctx) => {
    const records = async (): Promise<number> => (await lab.realserverStatus()).records;
    // A kernel locked down for confidentiality refuses the iterator that counts records (attach warns).
    if ((await records()) === null) ctx.skip('the kernel refused the records iterator (lockdown=confidentiality?)');
    const waitFor = async (n: number): Promise<number> => {
      let got = -1;
      for (let i = 0; i < 50 && got !== n; i++) {
        got = await records();
        if (got !== n) await new Promise((r) => setTimeout(r, 100));
      }
      return got;
    };
    expect(await waitFor(0)).toBe(0);
    const hold = lab.spawn('client', [
      process.execPath, '-e',
      `const s = require('net').connect(80, '${ADDR.vip4}', () => console.log('open')); process.stdin.resume(); setTimeout(() => s.end(), 20000)`,
    ]);
    await hold.waitFor(/open/);
    expect(await waitFor(1)).toBe(1);
    await hold.stop('SIGKILL');
    expect(await waitFor(0)).toBe(0);
  });

  it('10,000 connections from 80 addresses, 200 at once: no cross-talk, counters add up, no record left', async () => {
    const before = await counters();
    const runs = [
      { url: `http://${ADDR.vip4}/`, count: 6000, locals: Array.from({ length: EXTRA }, (_, i) => extraClient4(i)) },
      { url: `http://[${ADDR.vip6}]/`, count: 4000, locals: Array.from({ length: EXTRA }, (_, i) => extraClient6(i)) },
    ];
    let total = 0;
    const started = Date.now();
    for (const run of runs) {
      const res = await lab.httpClient([
        '--url', run.url, '--count', String(run.count), '--concurrency', '200', '--close',
        ...run.locals.flatMap((l) => ['--local', l]),
      ]);
      expect(res).toHaveLength(run.count);
      const errors = res.filter((r) => r.error);
      expect(errors.slice(0, 3)).toEqual([]);
      const wrong = res.filter((r) => {
        const b = r.body as { remoteAddress?: string; remotePort?: number };
        return b.remoteAddress !== onDual(r.localAddress!) || b.remotePort !== r.localPort;
      });
      expect(wrong.slice(0, 3)).toEqual([]);
      expect(new Set(res.map((r) => r.localAddress)).size).toBe(EXTRA);
      total += res.length;
    }
    const seconds = (Date.now() - started) / 1000;
    console.log(`realserver: ${total} connections through the director in ${seconds.toFixed(1)} s (${Math.round(total / seconds)}/s)`);
    const after = await counters();
    const d = (k: string): number => after[k] - before[k];
    // Every handshake ACK carried the writer's TOA: one segment read, one record, one rewrite each.
    expect({ segments: d('segments'), found: d('found'), rewritten6: d('rewritten6') }).toEqual({
      segments: total,
      found: total,
      rewritten6: total,
    });
    for (const k of Object.keys(after).filter((k) => !['segments', 'found', 'rewritten6'].includes(k))) {
      expect([k, d(k)]).toEqual([k, 0]);
    }
    // Records go with their sockets: none is left once the connections are closed
    // (unknown, null, where the kernel refused the iterator that counts them).
    if ((await lab.realserverStatus()).records === null) return;
    let records = -1;
    for (let i = 0; i < 50 && records !== 0; i++) {
      records = (await lab.realserverStatus()).records;
      if (records !== 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect(records).toBe(0);
  });
});
