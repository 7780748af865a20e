// install() and the framework adapters against real servers of every kind,
// with records in a real pinned map (filled as each connection arrives):
// what handlers, req.ip and loggers see must be the TOA client, on every
// request of a keep-alive connection, with one lookup per connection.
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import { once } from 'node:events';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadNative } from '../../src/backends/native.js';
import { create, type Toa } from '../../src/index.js';
import { install, resetPeernameCheck } from '../../src/install.js';
import { Reader } from '../../src/reader.js';
import { bpfUnavailable, makeRecord, TestMap } from '../helpers/bpfmap.js';
import { closeServer, getMany, getManyH2, listen, tls } from '../helpers/servers.js';

const noBpf = bpfUnavailable();
const CLIENT4 = [198, 51, 100, 10];
const LIP4 = [192, 0, 2, 1];
const rec4 = makeRecord({ family: 4, dialect: 1, address: CLIENT4, port: 40000, peerFamily: 4, peerAddress: LIP4, peerPort: 61000, flags: 2 });
const CLIENT6 = [0x20, 0x01, 0x0d, 0xb8, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10];
const nat64 = makeRecord({ family: 6, dialect: 2, address: CLIENT6, port: 51234, peerFamily: 4, peerAddress: LIP4, peerPort: 61001, flags: 1 });

function fd(s: net.Socket): number {
  return (s as unknown as { _handle: { fd: number } })._handle.fd;
}

/** Puts rec for every connection the server accepts, ahead of toa's own listener. */
function feed(map: TestMap, server: net.Server, rec: Uint8Array): void {
  server.prependListener('connection', (s: net.Socket) => map.put(fd(s), rec));
}

const echo = (s: net.Socket) => JSON.stringify({ address: s.remoteAddress, port: s.remotePort, family: s.remoteFamily });

describe('without anything attached', () => {
  test('install() leaves sockets as they are (via socket), on every kind of server', async () => {
    const toa = create({ backend: 'native', pinDir: `/sys/fs/bpf/toanode-none-${process.pid}` });
    const server = toa.install(http.createServer((req, res) => res.end(echo(req.socket))));
    const port = await listen(server, '127.0.0.1');
    try {
      const got = await getMany('http', '127.0.0.1', port, 3);
      for (const g of got) expect(g).toMatchObject({ address: '127.0.0.1', family: 'IPv4' });
    } finally {
      await closeServer(server);
    }
  });
});

describe.skipIf(noBpf)(`with records${noBpf ? ` (skipped: ${noBpf})` : ''}`, () => {
  let map: TestMap;
  let toa: Toa;
  beforeAll(() => {
    map = new TestMap('inst');
    toa = create({ backend: 'native', pinDir: map.pinDir, strict: true });
  });
  afterAll(() => map?.destroy());

  // Node's own getpeername cache is set: no own property, no new hidden class, and the client stays after close.
  for (const fallback of [false, true]) {
    test(`net: the connection handler already sees the client (${fallback ? 'as own properties, where Node\'s cache would not be read' : 'in Node\'s own peer cache'}), and still after close`, async () => {
      resetPeernameCheck(fallback ? false : undefined);
      const seen: { open: string; own: boolean; closed?: string }[] = [];
      const server = toa.install(net.createServer((s) => {
        seen.push({ open: echo(s), own: Object.getOwnPropertyDescriptor(s, 'remoteAddress') !== undefined });
        s.on('close', () => (seen[0].closed = echo(s)));
        s.end();
      }));
      feed(map, server, rec4);
      const port = await listen(server, '127.0.0.1');
      try {
        const c = net.connect(port, '127.0.0.1');
        c.resume();
        await once(c, 'close');
        await new Promise((r) => setTimeout(r, 50));
        const client = { address: '198.51.100.10', port: 40000, family: 'IPv4' };
        expect(JSON.parse(seen[0].open)).toEqual(client);
        expect(JSON.parse(seen[0].closed ?? 'null')).toEqual(client);
        expect(seen[0].own).toBe(fallback);
      } finally {
        resetPeernameCheck();
        await closeServer(server);
      }
    });
  }

  test.each([
    ['http', () => http.createServer(), 'http'],
    ['https', () => https.createServer(tls), 'https'],
  ] as const)('%s: every request of a keep-alive connection, dual-stack listener', async (_n, make, proto) => {
    const server = make();
    server.on('request', (req, res) => res.end(echo(req.socket)));
    toa.install(server);
    feed(map, server, rec4);
    const port = await listen(server, '::');
    try {
      const got = await getMany(proto, '127.0.0.1', port, 5);
      expect(got).toEqual(Array(5).fill({ address: '::ffff:198.51.100.10', port: 40000, family: 'IPv6' }));
    } finally {
      await closeServer(server);
    }
  });

  test.each([
    ['h2c', () => http2.createServer(), false],
    ['h2 over TLS', () => http2.createSecureServer(tls), true],
  ] as const)('http2 %s: req.socket and peer(req), peer(stream) report the client', async (_n, make, secure) => {
    const server = make();
    server.on('request', (req, res) => {
      const p = toa.peer(req);
      expect(toa.peer(req.stream)).toBe(p);
      res.end(JSON.stringify({ ...JSON.parse(echo(req.socket as net.Socket)), via: p.via }));
    });
    toa.install(server);
    feed(map, server, nat64);
    const port = await listen(server, '127.0.0.1');
    try {
      const got = await getManyH2(secure, '127.0.0.1', port, 3);
      expect(got).toEqual(Array(3).fill({ address: '2001:db8:100::10', port: 51234, family: 'IPv6', via: 'toa' }));
    } finally {
      await closeServer(server);
    }
  });

  test('one lookup per connection, however many requests', async () => {
    const native = loadNative().backend;
    let lookups = 0;
    const counting = {
      ...native,
      open(path: string) {
        const m = native.open(path);
        return { reset: () => m.reset(), lookup: (f: number, out: Uint8Array, fam?: number) => (lookups++, m.lookup(f, out, fam)) };
      },
    };
    const reader = new Reader({ backend: counting, info: { name: 'native', reason: 'test' }, pinDir: map.pinDir, strict: true });
    const server = http.createServer((req, res) => res.end(JSON.stringify(reader.peer(req))));
    install(reader, server);
    feed(map, server, rec4);
    const port = await listen(server, '127.0.0.1');
    try {
      const got = await getMany('http', '127.0.0.1', port, 10);
      expect(got.every((g) => g.address === '198.51.100.10' && g.via === 'toa')).toBe(true);
      expect(lookups).toBe(1);
    } finally {
      await closeServer(server);
    }
  });

  describe('express()', () => {
    async function run(trust: unknown, headers: Record<string, string> = {}, rec = rec4) {
      const app = express();
      app.set('trust proxy', trust);
      app.use(toa.express());
      app.get('/{*any}', (req, res) => {
        res.json({ ip: req.ip, ips: req.ips, peer: toa.peer(req) });
      });
      const server = http.createServer(app);
      feed(map, server, rec);
      const port = await listen(server, '127.0.0.1');
      try {
        return await getMany('http', '127.0.0.1', port, 3, headers);
      } finally {
        await closeServer(server);
      }
    }

    test('req.ip is the client on every request of a keep-alive connection', async () => {
      const got = await run(false);
      for (const g of got) expect(g).toMatchObject({ ip: '198.51.100.10', ips: [], peer: { via: 'toa', port: 40000 } });
    });

    test('trust proxy applies with the real client as the first hop', async () => {
      const xff = { 'x-forwarded-for': '203.0.113.7' };
      // The kernel peer is loopback, but the first hop is the TOA client, which is not.
      expect((await run('loopback', xff))[0]).toMatchObject({ ip: '198.51.100.10', ips: [] });
      expect((await run('198.51.100.10', xff))[0]).toMatchObject({ ip: '203.0.113.7', ips: ['203.0.113.7'] });
      expect((await run(true, xff))[0]).toMatchObject({ ip: '203.0.113.7' });
    });

    test('NAT64: an IPv6 client on an IPv4 listener', async () => {
      expect((await run(false, {}, nat64))[0]).toMatchObject({ ip: '2001:db8:100::10', peer: { nat64: true, family: 6 } });
    });
  });

  test('fastify: request.ip, request.toa and the request log line', async () => {
    const lines: any[] = [];
    const stream = new Writable({ write(c, _e, cb) { lines.push(JSON.parse(String(c))); cb(); } });
    const app = Fastify({ logger: { level: 'info', stream } });
    await app.register(toa.fastify);
    app.get('/', async (request) => ({ ip: request.ip, toa: (request as unknown as { toa: unknown }).toa }));
    feed(map, app.server, nat64);
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const got = await getMany('http', '127.0.0.1', (app.server.address() as net.AddressInfo).port, 3);
      for (const g of got) expect(g).toMatchObject({ ip: '2001:db8:100::10', toa: { via: 'toa', nat64: true, proxy: { address: '192.0.2.1' } } });
      const incoming = lines.filter((l) => l.msg === 'incoming request');
      expect(incoming.length).toBe(3);
      for (const l of incoming) expect(l.req.remoteAddress).toBe('2001:db8:100::10');
    } finally {
      await app.close();
    }
  });

  test('koa: ctx.ip and ctx.state.toa', async () => {
    const app = new Koa();
    app.use(toa.koa());
    app.use((ctx) => {
      ctx.body = { ip: ctx.ip, toa: ctx.state.toa };
    });
    const server = http.createServer(app.callback());
    feed(map, server, rec4);
    const port = await listen(server, '::');
    try {
      const got = await getMany('http', '::1', port, 3);
      // ::1 is an IPv6 socket, so the IPv4 client shows as ::ffff:…
      for (const g of got) expect(g).toMatchObject({ ip: '::ffff:198.51.100.10', toa: { family: 4, via: 'toa' } });
    } finally {
      await closeServer(server);
    }
  });
});
