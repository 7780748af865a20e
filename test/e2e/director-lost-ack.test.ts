/**
 * The handshake ACK lost between the director and the real server: the
 * writer keeps writing TOA into the client's segments until the real server
 * has acknowledged data or sent some, so the first data segment, which then
 * completes the handshake on the real server, carries it, and the reader
 * (the eBPF path; toa.ko in the VM run, test/vm/director.test.ts) gives the
 * application the client. An nftables rule on the director drops
 * each connection's second packet (its handshake ACK) on the way to the real
 * server, once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADDR, createLab, labUnavailable, readerUnavailable, type Lab } from '../lab/index.js';

const why = labUnavailable() ?? readerUnavailable();
const PORT = 80;

describe.skipIf(why)(`director: the handshake ACK lost on the way to the real server${why ? ` (skipped: ${why})` : ''}`, () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = await createLab();
    await lab.startPeerEcho({ host: '::', port: PORT });
    await lab.attachWriter({ ports: [PORT] });
    await lab.attachReader();
    // Connection tracking counts each connection's packets; the second one from the client is its handshake ACK.
    await lab.execOk('director', ['sysctl', '-qw', 'net.netfilter.nf_conntrack_acct=1']);
    await lab.execOk('director', ['nft', '-f', '-'], {
      input: `table inet lose_ack {
  chain to_rs {
    type filter hook forward priority 0;
    oifname "rs0" tcp dport ${PORT} tcp flags == ack ct original packets 2 counter drop
  }
}
`,
    });
  }, 60_000);

  afterAll(async () => {
    await lab?.destroy();
  });

  it.each([
    ['IPv4', `http://${ADDR.vip4}:${PORT}/`, `::ffff:${ADDR.client4}`],
    ['IPv6', `http://[${ADDR.vip6}]:${PORT}/`, ADDR.client6],
  ])('%s: the first data segment carries TOA and the application sees the client', async (_n, url, want) => {
    const dropped = async (): Promise<number> =>
      JSON.parse(await lab.execOk('director', ['nft', '-j', 'list', 'table', 'inet', 'lose_ack'])).nftables.find((x: any) => x.rule)!.rule.expr.find((e: any) => e.counter).counter.packets;
    const before = await dropped();
    const cap = await lab.capture('realserver', 'eth0', `tcp port ${PORT}`);
    const out = await lab.execOk('client', ['curl', '-sS', '--max-time', '10', '-w', '\n%{local_port}', url]);
    const segs = await cap.stop();
    const [body, port] = out.trim().split('\n');
    expect(await dropped()).toBe(before + 1);
    const answer = JSON.parse(body);
    expect({ remoteAddress: answer.remoteAddress, remotePort: answer.remotePort }).toEqual({ remoteAddress: want, remotePort: Number(port) });
    // At the real server the handshake ACK never came: the first client segment after the SYN is the request, with TOA.
    const fromClient = segs.filter((s) => s.sport === answer.remotePort && s.dport === PORT && !s.flags.syn);
    expect(fromClient[0].payloadLength).toBeGreaterThan(0);
    expect(fromClient[0].options[0]).toBe(254);
  });
});
