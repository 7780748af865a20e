// Real traffic that the lab's clients never make: worker threads with their
// own pin directories, clients that reset before the app reads them, hosts
// with nothing attached, and the small edges of the API.
import express from 'express';
import { once } from 'node:events';
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import net from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { loadNative } from '../../src/backends/native.js';
import { create, ToaError, type BackendName } from '../../src/index.js';
import { Reader } from '../../src/reader.js';
import { bpfUnavailable, makeRecord, TestMap } from '../helpers/bpfmap.js';
import { fdOf, pair } from '../helpers/sockets.js';
import { closeServer, listen } from '../helpers/servers.js';

const noBpf = bpfUnavailable();
const none = () => `/sys/fs/bpf/toanode-none-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
const recFor = (last: number) =>
  makeRecord({ family: 4, dialect: 1, address: [198, 51, 100, last], port: 40000 + last, peerFamily: 4, peerAddress: [192, 0, 2, 1], peerPort: 61000, flags: 2 });

afterEach(() => vi.restoreAllMocks());

// The worker runs the built package (dist/, as installed), each with its own pin directory.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const net = require('node:net');
const toa = require(workerData.entry).create({ backend: workerData.backend, pinDir: workerData.pinDir });
(async () => {
  const got = [];
  for (let i = 0; i < workerData.rounds; i++) {
    const srv = net.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => srv.once('listening', r));
    const accepted = new Promise((r) => srv.once('connection', r));
    const c = net.connect(srv.address().port, '127.0.0.1');
    const s = await accepted;
    if (workerData.put) {
      const done = new Promise((r) => parentPort.once('message', r));
      parentPort.postMessage({ fd: s._handle.fd });
      await done;
    }
    const p = toa.peer(s);
    got.push(p.via + ' ' + p.address);
    toa.reset(); // closes this worker's map fd: never another thread's
    c.destroy(); s.destroy(); srv.close();
  }
  parentPort.postMessage({ got });
})();`;

describe.skipIf(noBpf)(`worker threads${noBpf ? ` (skipped: ${noBpf})` : ''}`, () => {
  test.each(['native', 'ffi'] as BackendName[])('%s: main thread and workers with other pin directories stay independent', async (backend) => {
    const mapMain = new TestMap('wm');
    const mapWorker = new TestMap('ww');
    const entry = join(__dirname, '../../dist/cjs/index.js');
    const rounds = 30;
    const workers = [
      { pinDir: mapWorker.pinDir, put: true, want: `toa 198.51.100.12` },
      { pinDir: none(), put: false, want: 'socket 127.0.0.1' },
    ].map((w) => {
      const worker = new Worker(WORKER, { eval: true, workerData: { entry, backend, rounds, pinDir: w.pinDir, put: w.put } });
      const result = new Promise<string[]>((resolve, reject) => {
        worker.on('error', reject);
        worker.on('message', (m: { fd?: number; got?: string[] }) => {
          if (m.got) return resolve(m.got);
          mapWorker.put(m.fd!, recFor(12)); // fds are process-wide: the main thread can fill the worker's map
          worker.postMessage('put');
        });
      });
      return { ...w, worker, result };
    });
    try {
      const toa = create({ backend, pinDir: mapMain.pinDir });
      const mine: string[] = [];
      for (let i = 0; i < rounds; i++) {
        const p = await pair('127.0.0.1', '127.0.0.1', (s) => mapMain.put(fdOf(s), recFor(11)));
        const got = toa.peer(p.server);
        mine.push(`${got.via} ${got.address}`);
        await p.close();
        await sleep(1);
      }
      expect(mine).toEqual(Array(rounds).fill('toa 198.51.100.11'));
      for (const w of workers) expect(await w.result).toEqual(Array(rounds).fill(w.want));
    } finally {
      for (const w of workers) await w.worker.terminate();
      mapMain.destroy();
      mapWorker.destroy();
    }
  }, 60_000);
});

/** A client that connects and resets (RST) at once; resolves with the server's socket once the reset arrived. */
async function resetBeforeRead(server: net.Server, port: number): Promise<net.Socket> {
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const c = net.connect(port, '127.0.0.1');
  c.on('error', () => {});
  await once(c, 'connect');
  const [s] = await accepted;
  s.on('error', () => {});
  c.resetAndDestroy();
  await new Promise((resolve) => s.once('close', resolve)); // once() would reject on the ECONNRESET
  return s;
}

describe.each(['native', 'ffi', 'socket'] as BackendName[])('%s: a client that resets before the app reads it', (backend) => {
  test('peer(): TOA_ESOCKCLOSED saying so, or the address Node had cached', async () => {
    const toa = create({ backend, pinDir: none() });
    const server = net.createServer();
    const port = await listen(server, '127.0.0.1');
    try {
      const s = await resetBeforeRead(server, port);
        expect(() => toa.peer(s)).toThrow(expect.objectContaining({ code: 'TOA_ESOCKCLOSED', message: expect.stringMatching(/reset the connection/) }));
      // Read before the reset: that answer stays, in a 'close' handler too.
      const accepted = once(server, 'connection') as Promise<[net.Socket]>;
      const c = net.connect(port, '127.0.0.1');
      c.on('error', () => {});
      const [s2] = await accepted;
      s2.on('error', () => {});
      const local = s2.remoteAddress;
      const closed = new Promise<unknown>((resolve) => s2.on('close', () => resolve(toa.peer(s2))));
      c.resetAndDestroy();
      expect(await closed).toMatchObject({ address: local, via: 'socket' });
    } finally {
      await closeServer(server);
    }
  });

  test('install(): a connection reset while it waited to be accepted is let pass, with no warning', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const toa = create({ backend, pinDir: none() });
    const seen: unknown[] = [];
    const server = toa.install(net.createServer((s) => {
      s.on('error', () => {});
      seen.push(s.remoteAddress);
      s.destroy();
    }));
    const port = await listen(server, '127.0.0.1');
    const marker = join(tmpdir(), `toa-reset-${process.pid}-${backend}`);
    try {
      // Another process connects and resets while this one is busy: the
      // kernel completes the handshake, queues the connection, then takes the RST.
      spawn(process.execPath, ['-e', `const c = require('node:net').connect(${port}, '127.0.0.1', () => { c.resetAndDestroy(); setTimeout(() => require('node:fs').writeFileSync('${marker}', ''), 100); }); c.on('error', () => {});`], { stdio: 'ignore' });
      const blocker = new Int32Array(new SharedArrayBuffer(4));
      for (let i = 0; i < 100 && !existsSync(marker); i++) Atomics.wait(blocker, 0, 0, 100);
      expect(existsSync(marker)).toBe(true);
      await vi.waitFor(() => expect(seen).toHaveLength(1));
      expect(seen).toEqual([undefined]); // the app sees no address, as without node-toa
      expect(warn).not.toHaveBeenCalled();
    } finally {
      rmSync(marker, { force: true });
      await closeServer(server);
    }
  }, 30_000);

  test('install() and express() neither warn nor fail the request', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const toa = create({ backend, pinDir: none() });
    let reached = 0;
    const app = express();
    // Holds the request until its client has reset, as a slow earlier middleware would.
    app.use((req, _res, next) => {
      req.socket.on('error', () => {});
      if (req.socket.destroyed) return next();
      req.socket.once('close', () => next());
    });
    app.use(toa.express());
    app.get('/', (_req, res) => {
      reached++;
      res.end();
    });
    const server = toa.install(http.createServer(app));
    const port = await listen(server, '127.0.0.1');
    try {
      for (let i = 0; i < 3; i++) {
        const s = await resetBeforeRead(server, port); // install() sees it first
        expect(s.destroyed).toBe(true);
        const c = net.connect(port, '127.0.0.1');
        c.on('error', () => {});
        await once(c, 'connect');
        c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
        await sleep(50);
        c.resetAndDestroy();
      }
      await vi.waitFor(() => expect(reached).toBe(3));
      expect(warn).not.toHaveBeenCalled();
    } finally {
      await closeServer(server);
    }
  });
});

describe('absence is cheap and noticed', () => {
  test('nothing pinned, toa.ko not loaded: one kernel probe per second, not per connection; an attach is seen', async () => {
    const native = loadNative().backend;
    let lookups = 0;
    const counting = {
      ...native,
      open(path: string) {
        const m = native.open(path);
        return { reset: () => m.reset(), lookup: (f: number, out: Uint8Array, fam?: number) => (lookups++, m.lookup(f, out, fam)) };
      },
    };
    // As after a detach: the pin directory is there, nothing is pinned in it.
    const map = noBpf ? undefined : new TestMap('appear');
    map?.unpin();
    const reader = new Reader({ backend: counting, info: { name: 'native', reason: 'test' }, pinDir: map?.pinDir ?? none(), strict: false });
    try {
      for (let i = 0; i < 5; i++) {
        const p = await pair('127.0.0.1', '127.0.0.1');
        expect(reader.peer(p.server)).toMatchObject({ address: '127.0.0.1', via: 'socket' });
        await p.close();
      }
      expect(lookups).toBe(1);
      if (!map) return;
      map.load(); // the real-server path attaches
      await sleep(1100);
      const p = await pair('127.0.0.1', '127.0.0.1', (s) => map.put(fdOf(s), recFor(13)));
      try {
        expect(reader.peer(p.server)).toMatchObject({ via: 'toa', address: '198.51.100.13' });
        expect(lookups).toBe(2);
      } finally {
        await p.close();
      }
    } finally {
      map?.destroy();
    }
  }, 30_000);
});

describe('edges', () => {
  const toa = create({ backend: 'native', pinDir: none() });

  test('install({}) throws a ToaError TOA_EINVAL', () => {
    let err: unknown;
    try {
      toa.install({} as never);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ToaError);
    expect(err).toMatchObject({ code: 'TOA_EINVAL' });
  });

  test('install() in strict mode: a connection whose client cannot be known is closed, with one warning, never a crash', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const strict = create({ backend: 'native', pinDir: none(), strict: true });
    let served = 0;
    const server = strict.install(net.createServer(() => served++));
    const port = await listen(server, '127.0.0.1');
    try {
      for (let i = 0; i < 2; i++) {
        const c = net.connect(port, '127.0.0.1');
        c.on('error', () => {});
        await new Promise((resolve) => c.once('close', resolve));
      }
      expect(served).toBe(2); // the server's own listener still runs, on a closed socket
      expect(warn).toHaveBeenCalledTimes(1);
      expect(warn).toHaveBeenCalledWith(expect.stringMatching(/no TOA records map is pinned.*strict mode closes such connections/), expect.objectContaining({ code: 'TOA_ENOMAP' }));
    } finally {
      await closeServer(server);
    }
  });

  test('create({ strict }) takes true or false only', () => {
    expect(() => create({ strict: 'yes' as never })).toThrow(expect.objectContaining({ code: 'TOA_EINVAL', message: expect.stringMatching(/strict must be true or false, got "yes"/) }));
  });

  test('messages name what they got once: "got undefined", "getpeername: <reason>"', async () => {
    expect(() => toa.peer(undefined as never)).toThrow(/got undefined$/);
    const server = net.createServer({ pauseOnConnect: true }); // not reading: the socket stays open after the RST
    const port = await listen(server, '127.0.0.1');
    try {
      const accepted = once(server, 'connection') as Promise<[net.Socket]>;
      const c = net.connect(port, '127.0.0.1');
      c.on('error', () => {});
      const [s] = await accepted;
      s.on('error', () => {});
      c.resetAndDestroy();
      await sleep(50);
      let msg = '';
      try {
        toa.getpeername(s);
      } catch (e) {
        msg = (e as Error).message;
      }
      expect(msg).toBe('node-toa: getpeername: socket is not connected');
      s.destroy();
    } finally {
      await closeServer(server);
    }
  });

  test("express-session's req.session is not taken for an HTTP/2 session", async () => {
    const app = express();
    app.use((req, _res, next) => {
      (req as unknown as { session: object }).session = { cookie: {}, id: 'x' };
      next();
    });
    app.use(toa.express());
    app.get('/', (req, res) => res.json(toa.peer(req)));
    const server = http.createServer(app);
    const port = await listen(server, '127.0.0.1');
    try {
      const r = await fetch(`http://127.0.0.1:${port}/`);
      expect(await r.json()).toMatchObject({ address: '127.0.0.1', via: 'socket' });
    } finally {
      await closeServer(server);
    }
  });

  test('a TOA_PIN_DIR that does not exist is warned about once', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const dir = none();
    vi.stubEnv('TOA_PIN_DIR', dir);
    try {
      const t = create({ backend: 'native' });
      expect(t.pinDir).toBe(dir);
      for (let i = 0; i < 2; i++) {
        const p = await pair('127.0.0.1', '127.0.0.1');
        t.peer(p.server);
        await p.close();
        t.reset(); // forget the absence: the next connection probes again
      }
      expect(warn).toHaveBeenCalledTimes(1);
      expect(warn).toHaveBeenCalledWith(expect.stringMatching(/TOA_PIN_DIR=.* does not exist/), expect.objectContaining({ code: 'TOA_ENOPINDIR' }));
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
