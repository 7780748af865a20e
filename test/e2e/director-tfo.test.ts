/**
 * TCP Fast Open through the director. A Fast Open server makes the
 * connection from the SYN (which never carries TOA) and its handshake ACK
 * arrives in SYN_RECV, where no real-server path looks: such connections
 * would show the LIP. The writer takes the Fast Open option (the cookie, or
 * the request for one) out of client SYNs, so the client never gets a cookie
 * and every handshake is a normal one. curl --tcp-fastopen against a Fast Open
 * server on the real server's eBPF path, several times (the first connection
 * of a client asks for a cookie, later ones would send data in the SYN).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADDR, createLab, labUnavailable, tcpOptions, type Lab } from '../lab/index.js';

const why = labUnavailable();
const PORT = 8443;

/** A Fast Open server answering each request with the peer its socket reports. */
const SERVER = `
import json, socket
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, 16)
s.bind(('::', ${PORT}))
s.listen(64)
print('listening', flush=True)
while True:
    c, _ = s.accept()
    c.recv(4096)
    peer = c.getpeername()
    c.sendall(b'HTTP/1.0 200 OK\\r\\n\\r\\n' + json.dumps({'remoteAddress': peer[0], 'remotePort': peer[1]}).encode())
    c.close()
`;

describe.skipIf(why)(`director: TCP Fast Open clients${why ? ` (skipped: ${why})` : ''}`, () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = await createLab();
    // Fast Open on both ends: the client's default (1) and the server's (2).
    await lab.execOk('client', ['sysctl', '-qw', 'net.ipv4.tcp_fastopen=1']);
    await lab.execOk('realserver', ['sysctl', '-qw', 'net.ipv4.tcp_fastopen=3']);
    const server = lab.spawn('realserver', ['/usr/bin/python3', '-c', SERVER], { cgroup: true });
    await server.waitFor(/listening/);
    await lab.attachWriter({ ports: [PORT] });
    await lab.attachRealserver();
  }, 60_000);

  afterAll(async () => {
    await lab?.destroy();
  });

  it.each([
    ['IPv4', `http://${ADDR.vip4}:${PORT}/`, `::ffff:${ADDR.client4}`],
    ['IPv6', `http://[${ADDR.vip6}]:${PORT}/`, ADDR.client6],
  ])('%s: every connection of a Fast Open client is a normal handshake, and the application sees the client', async (_n, url, want) => {
    const before = (await lab.writerStatus()).counters;
    const cap = await lab.capture('realserver', 'eth0', `tcp port ${PORT}`);
    for (let i = 0; i < 3; i++) {
      const out = await lab.execOk('client', ['curl', '-sS', '--tcp-fastopen', '--max-time', '10', '-w', '\n%{local_port}', url]);
      const [body, port] = out.trim().split('\n');
      expect([i, JSON.parse(body)]).toEqual([i, { remoteAddress: want, remotePort: Number(port) }]);
    }
    const segs = await cap.stop();
    const syns = segs.filter((s) => s.flags.syn && !s.flags.ack);
    expect(syns).toHaveLength(3);
    // No SYN reaches the real server with a Fast Open option or data; no SYN-ACK hands out a cookie.
    for (const s of segs.filter((x) => x.flags.syn)) {
      expect(tcpOptions(s.options).filter((o) => o.kind === 34 || (o.kind === 254 && o.body[0] === 0xf9 && o.body[1] === 0x89))).toEqual([]);
    }
    for (const s of syns) expect(s.payloadLength).toBe(0);
    const after = (await lab.writerStatus()).counters;
    expect(after.tfo_stripped - before.tfo_stripped).toBe(3);
  });
});
