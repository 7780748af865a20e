// Every backend against real loopback sockets: without TOA it must report
// exactly the socket's own peer; with a record in a real pinned socket-storage
// map (root) it must report the record. Native and ffi must agree.
import { once } from 'node:events';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { create, type BackendName, type Toa } from '../../src/index.js';
import { bpfUnavailable, makeRecord, pinWrongMap, TestMap } from '../helpers/bpfmap.js';
import { fdOf, pair } from '../helpers/sockets.js';

const backends: BackendName[] = ['native', 'ffi', 'socket'];
const noBpf = bpfUnavailable();

const v4rec = makeRecord({ family: 4, dialect: 1, address: [198, 51, 100, 10], port: 40000, peerFamily: 4, peerAddress: [192, 0, 2, 1], peerPort: 61000, flags: 2 });
const v6addr = [0x20, 0x01, 0x0d, 0xb8, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10];
const nat64rec = makeRecord({ family: 6, dialect: 2, address: v6addr, port: 51234, peerFamily: 4, peerAddress: [192, 0, 2, 1], peerPort: 61001, flags: 1 });

describe.each(backends)('%s backend', (name) => {
  const toa = create({ backend: name, pinDir: `/sys/fs/bpf/toanode-none-${process.pid}` });

  test('loads and says so', () => {
    expect(toa.backend.name).toBe(name);
    expect(toa.backend.reason).toMatch(name);
  });

  test.each([
    ['IPv4', '127.0.0.1', '127.0.0.1', '127.0.0.1', 4],
    ['IPv6', '::1', '::1', '::1', 6],
    ['IPv4 client on a dual-stack socket', '::', '127.0.0.1', '::ffff:127.0.0.1', 4],
  ] as const)('no TOA, %s: the socket\'s own peer, via socket', async (_n, listen, connect, expected, family) => {
    const p = await pair(listen, connect);
    try {
      const got = toa.peer(p.server);
      expect(got).toEqual({ address: expected, port: p.client.localPort, family, via: 'socket' });
      expect(got.address).toBe(p.server.remoteAddress);
      expect(toa.record(p.server)).toBeNull();
      if (name === 'socket') {
        expect(() => toa.getpeername(p.server)).toThrow(expect.objectContaining({ code: 'TOA_EBACKEND' }));
      } else {
        expect(toa.getpeername(p.server)).toEqual({ address: expected, port: p.client.localPort, family: listen === '::' ? 6 : family });
      }
    } finally {
      await p.close();
    }
  });

  test('one lookup per connection: the result is cached on the socket', async () => {
    const p = await pair('127.0.0.1', '127.0.0.1');
    try {
      const first = toa.peer(p.server);
      expect(toa.peer(p.server)).toBe(first);
      // Still answers after close, from the cache.
      p.server.destroy();
      expect(toa.peer(p.server)).toBe(first);
    } finally {
      await p.close();
    }
  });

  test('a closed socket never read: TOA_ESOCKCLOSED', async () => {
    const p = await pair('127.0.0.1', '127.0.0.1');
    p.server.destroy();
    await once(p.server, 'close');
    expect(() => toa.peer(p.server)).toThrow(expect.objectContaining({ code: 'TOA_ESOCKCLOSED', message: expect.stringMatching(/closed/) }));
    await p.close();
  });

  describe.skipIf(noBpf)(`with a real pinned records map${noBpf ? ` (skipped: ${noBpf})` : ''}`, () => {
    let map: TestMap;
    let t: Toa;
    beforeAll(() => {
      map = new TestMap(name);
      t = create({ backend: name, pinDir: map.pinDir, strict: true });
    });
    afterAll(() => map?.destroy());

    test('an IPv4 record on an IPv4 socket', async () => {
      const p = await pair('127.0.0.1', '127.0.0.1', (s) => map.put(fdOf(s), v4rec));
      try {
        if (name === 'socket') {
          expect(t.peer(p.server).via).toBe('socket');
          return;
        }
        expect(t.peer(p.server)).toEqual({
          address: '198.51.100.10', port: 40000, family: 4, via: 'toa',
          proxy: { address: '192.0.2.1', port: 61000 }, dialect: 'v4', nat64: false,
        });
        expect(Buffer.from(t.record(p.server)!)).toEqual(Buffer.from(v4rec));
      } finally {
        await p.close();
      }
    });

    test.skipIf(name === 'socket')('an IPv4 record on a dual-stack socket reads ::ffff:, family 4', async () => {
      const p = await pair('::', '127.0.0.1', (s) => map.put(fdOf(s), v4rec));
      try {
        expect(t.peer(p.server)).toMatchObject({ address: '::ffff:198.51.100.10', family: 4, proxy: { address: '::ffff:192.0.2.1' } });
      } finally {
        await p.close();
      }
    });

    test.skipIf(name === 'socket')('NAT64: an IPv6 client on an IPv4 socket', async () => {
      const p = await pair('127.0.0.1', '127.0.0.1', (s) => map.put(fdOf(s), nat64rec));
      try {
        expect(t.peer(p.server)).toEqual({
          address: '2001:db8:100::10', port: 51234, family: 6, via: 'toa',
          proxy: { address: '192.0.2.1', port: 61001 }, dialect: 'v6', nat64: true,
        });
      } finally {
        await p.close();
      }
    });

    test.skipIf(name === 'socket')('a socket without a record in the map: via socket', async () => {
      const p = await pair('127.0.0.1', '127.0.0.1');
      try {
        expect(t.peer(p.server)).toMatchObject({ address: '127.0.0.1', via: 'socket' });
      } finally {
        await p.close();
      }
    });

    test.skipIf(name === 'socket')('a map replaced under the same pin is picked up within a second; a removed pin means no records', async () => {
      const a = await pair('127.0.0.1', '127.0.0.1', (s) => map.put(fdOf(s), v4rec));
      expect(t.peer(a.server).via).toBe('toa'); // opens and caches the first map
      await a.close();
      map.load(); // a new map object under the same name, as after detach + attach
      await sleep(1100); // a miss checks the pin's identity at most once a second
      const b = await pair('127.0.0.1', '127.0.0.1', (s) => map.put(fdOf(s), nat64rec));
      try {
        expect(t.peer(b.server)).toMatchObject({ via: 'toa', address: '2001:db8:100::10' });
      } finally {
        await b.close();
      }
      const old = create({ backend: name, pinDir: map.pinDir });
      map.unpin();
      await sleep(1100);
      const c = await pair('127.0.0.1', '127.0.0.1');
      try {
        expect(old.peer(c.server).via).toBe('socket');
        expect(() => t.peer(c.server)).toThrow(expect.objectContaining({ code: 'TOA_ENOMAP' }));
      } finally {
        await c.close();
        map.load();
      }
    });

    test.skipIf(name === 'socket')('a wrong map pinned as records: TOA_EMAP (strict), a warning and the socket address otherwise', async () => {
      const wrong = new TestMap(`${name}w`);
      wrong.unpin();
      pinWrongMap(wrong.pinDir);
      const strict = create({ backend: name, pinDir: wrong.pinDir, strict: true });
      const lenient = create({ backend: name, pinDir: wrong.pinDir });
      const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
      const p = await pair('127.0.0.1', '127.0.0.1');
      try {
        expect(() => strict.peer(p.server)).toThrow(expect.objectContaining({ code: 'TOA_EMAP', message: expect.stringMatching(/not a TOA records map/) }));
        expect(lenient.peer(p.server)).toMatchObject({ address: '127.0.0.1', via: 'socket' });
        expect(warn).toHaveBeenCalledWith(expect.stringMatching(/not a TOA records map/), expect.objectContaining({ code: 'TOA_EMAP' }));
      } finally {
        warn.mockRestore();
        await p.close();
        wrong.destroy();
      }
    });
  });
});

describe.skipIf(noBpf)('native and ffi agree', () => {
  test('on the same sockets, records and none', async () => {
    const map = new TestMap('agree');
    try {
      const native = create({ backend: 'native', pinDir: map.pinDir });
      const ffi = create({ backend: 'ffi', pinDir: map.pinDir });
      for (const rec of [v4rec, nat64rec, null]) {
        for (const host of ['127.0.0.1', '::1']) {
          const p = await pair(host === '::1' ? '::1' : '::', host, (s) => rec && map.put(fdOf(s), rec));
          try {
            expect(ffi.peer(p.server)).toEqual(native.peer(p.server));
            expect(ffi.getpeername(p.server)).toEqual(native.getpeername(p.server));
          } finally {
            await p.close();
          }
        }
      }
    } finally {
      map.destroy();
    }
  });
});

test('the default instance follows TOA_BACKEND and loads a backend that is not socket here', async () => {
  const { backend } = await import('../../src/index.js');
  expect(['native', 'ffi', 'socket']).toContain(backend.name);
  if (!process.env.TOA_BACKEND) expect(backend.name).toBe('native');
  void net;
});
