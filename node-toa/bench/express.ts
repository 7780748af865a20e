/**
 * Express requests per second with toa.express() vs without, measured by
 * autocannon (a child process) against two servers in this process, rounds
 * interleaved, keep-alive and Connection: close. Both servers get a record
 * per connection in a real pinned map (as root), so the middleware does its
 * real lookup.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import express from 'express';
import { create } from '../src/index.js';
import { bpfUnavailable, makeRecord, TestMap } from '../test/helpers/bpfmap.js';
import { fdOf } from '../test/helpers/sockets.js';

const AUTOCANNON = join(__dirname, '../../node_modules/autocannon/autocannon.js');

export interface ExpressRates {
  mode: 'keep-alive' | 'close';
  without: number[];
  with: number[];
}

async function rate(port: number, seconds: number, close: boolean): Promise<number> {
  const args = [AUTOCANNON, '--json', '-c', '32', '-d', String(seconds), ...(close ? ['-H', 'Connection: close'] : []), `http://127.0.0.1:${port}/`];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
  const [code] = await once(child, 'exit');
  if (code !== 0) throw new Error(`autocannon exited with ${code}`);
  const r = JSON.parse(out);
  if (r.non2xx || r.errors) throw new Error(`autocannon: ${r.non2xx} non-2xx, ${r.errors} errors`);
  return r.requests.average;
}

export async function benchExpress(opts: { rounds?: number; seconds?: number } = {}): Promise<ExpressRates[]> {
  const rounds = opts.rounds ?? 4;
  const seconds = opts.seconds ?? 4;
  const map = bpfUnavailable() === null ? new TestMap('benchx') : undefined;
  const toa = create({ pinDir: map?.pinDir ?? `/sys/fs/bpf/toanode-none-${process.pid}` });
  const rec = makeRecord({ family: 4, dialect: 1, address: [198, 51, 100, 10], port: 40000, peerFamily: 4, peerAddress: [192, 0, 2, 1], peerPort: 61000, flags: 2 });
  const servers: http.Server[] = [];
  const start = async (withToa: boolean) => {
    const app = express();
    if (withToa) app.use(toa.express());
    app.get('/', (req, res) => {
      res.send(req.ip);
    });
    const server = http.createServer(app);
    server.keepAliveTimeout = 60_000;
    if (map) server.prependListener('connection', (s) => map.put(fdOf(s), rec));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    servers.push(server);
    return (server.address() as AddressInfo).port;
  };
  try {
    const plain = await start(false);
    const withToa = await start(true);
    const out: ExpressRates[] = [];
    for (const mode of ['keep-alive', 'close'] as const) {
      const r: ExpressRates = { mode, without: [], with: [] };
      // ABBA order: a machine getting busier or quieter during the run weighs on both sides alike.
      for (let i = 0; i < rounds; i++) {
        const order = i % 2 ? [true, false] : [false, true];
        for (const t of order) (t ? r.with : r.without).push(await rate(t ? withToa : plain, seconds, mode === 'close'));
      }
      out.push(r);
    }
    return out;
  } finally {
    for (const s of servers) {
      s.closeAllConnections();
      s.close();
    }
    map?.destroy();
  }
}
