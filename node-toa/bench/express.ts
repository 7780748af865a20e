/**
 * Express requests per second with toa.express(), with an empty middleware
 * (what any middleware costs: Express running one more layer), with
 * toa.install(server) and with none of them, measured by wrk (a child
 * process, on its own CPU) against four servers in this process, rounds
 * interleaved, keep-alive and Connection: close. Wall-clock rates resolve
 * a few percent, so the middleware's own work on a kept-alive request is
 * also timed alone: called directly on a real request, next to an empty
 * middleware. As root, the kernel stores a record for every
 * connection the servers accept (a sockops program, as on a real server), so
 * toa does its real lookup and the app pays nothing else for the record.
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import express from 'express';
import type { Middleware } from '../src/adapters/express.js';
import type { Toa } from '../src/api.js';
import { create } from '../src/index.js';
import { bpfUnavailable, makeRecord, TestMap } from '../test/helpers/bpfmap.js';
import { nsPerOp } from './peer.js';
import { median } from '../../test/bench/stats.js';


/** How the app gets the client: not at all, not at all but through one more layer, the middleware, or install() on its server (per connection, no layer). */
export const VARIANTS = ['none', 'empty middleware', 'express()', 'install()'] as const;
export type Variant = (typeof VARIANTS)[number];

export interface ExpressRates {
  mode: 'keep-alive' | 'close';
  /** Requests per second, per variant and round. */
  rate: Record<Variant, number[]>;
  /** This process's CPU time (user + system) per request served, in ns: the server's own cost, which a shared machine's wall-clock swings move far less. */
  cpu: Record<Variant, number[]>;
}

/** Per connection under wrk's Connection: close load, wall time of one call (ns), the median of each round. */
export interface FirstCallsUnderLoad {
  /** Node's first read of socket.remoteAddress (its getpeername), what an app without toa pays. */
  remoteAddress: number[];
  /** toa.express()'s first call on the connection (its record lookup), which replaces that read. */
  toa: number[];
}

export interface MiddlewareCalls {
  /** CPU time per call of an empty middleware, per round (ns). */
  empty: number[];
  /** CPU time per call of toa.express() on a kept-alive request (its socket read already), per round (ns). */
  toa: number[];
}

const emptyMiddleware: Middleware = (_req, _res, next) => next();

type Route = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** The bench's app: the middlewares given, then GET / answering req.ip (the client Express sees). */
function appWith(middlewares: Middleware[], route: Route = () => {}): express.Express {
  const app = express();
  for (const m of middlewares) app.use(m);
  app.get('/', (req, res) => {
    route(req, res);
    res.send(req.ip);
  });
  return app;
}

type Listen = (app: express.Express, v?: Variant) => Promise<number>;

/**
 * With two CPUs or more, this process (both servers) runs on CPU 0 and
 * wrk on CPU 1: left to the scheduler, the two trade cores and
 * rounds of the same server differ by a fifth or more.
 */
function pinCpus(): { client: string[]; restore: () => void } {
  if (availableParallelism() < 2) return { client: [], restore: () => {} };
  const was = spawnSync('taskset', ['-p', String(process.pid)], { encoding: 'utf8' });
  // -a: every thread of this process (V8's and libuv's too), not only the main one.
  const mask = /: ([0-9a-f,]+)\s*$/.exec(was.stdout ?? '')?.[1];
  if (was.status !== 0 || !mask || spawnSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)]).status !== 0) {
    return { client: [], restore: () => {} };
  }
  return { client: ['taskset', '-c', '1'], restore: () => void spawnSync('taskset', ['-a', '-p', mask, String(process.pid)]) };
}

/**
 * Requests per second from wrk (one thread: the client must not take the
 * server's core), and this process's CPU time per request meanwhile.
 */
async function rate(port: number, seconds: number, close: boolean, pin: string[]): Promise<{ rate: number; cpu: number }> {
  const cmd = [...pin, 'wrk', '-t1', '-c32', `-d${seconds}s`, ...(close ? ['-H', 'Connection: close'] : []), `http://127.0.0.1:${port}/`];
  const cpu0 = process.cpuUsage();
  const child = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d) => (out += d));
  const [code] = await once(child, 'exit');
  const cpu = process.cpuUsage(cpu0);
  if (code !== 0) throw new Error(`wrk exited with ${code}: ${out.trim()}`);
  // A server that answered anything but 200, or dropped connections, is not a rate to compare.
  const bad = /Non-2xx or 3xx responses: \d+|Socket errors: .*/.exec(out);
  if (bad) throw new Error(`wrk: ${bad[0]}`);
  const m = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const n = /(\d+) requests in /.exec(out);
  if (!m || !n) throw new Error(`wrk: no rate in its output: ${out.trim()}`);
  return { rate: Number(m[1]), cpu: ((cpu.user + cpu.system) * 1000) / Number(n[1]) };
}

const CLIENT = '198.51.100.10';

/** The middleware must be reading records, or the bench would time the fallback. */
async function expectClient(port: number, v: 'express()' | 'install()'): Promise<void> {
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => http.get({ host: '127.0.0.1', port, agent: false }, resolve).on('error', reject));
  let body = '';
  for await (const chunk of res) body += chunk;
  if (body !== CLIENT) throw new Error(`bench: toa.${v} reported ${JSON.stringify(body)}, not the record's client ${CLIENT}`);
}

/**
 * toa.express() and an empty middleware called directly, in turns, on one
 * request of a kept-alive connection whose client toa has read: what every
 * later request on the connection pays for the middleware's own work.
 */
async function middlewareCalls(toa: Toa, rounds: number, listen: Listen): Promise<MiddlewareCalls> {
  const mw = toa.express();
  const out: MiddlewareCalls = { empty: [], toa: [] };
  const next = (err?: unknown) => {
    if (err) throw err;
  };
  const app = appWith([mw], (req, res) => {
    for (let r = 0; r < rounds; r++) {
      out.empty.push(nsPerOp(200_000, () => emptyMiddleware(req, res, next)));
      out.toa.push(nsPerOp(200_000, () => mw(req, res, next)));
    }
  });
  // One request, which also checks that the middleware read the record.
  await expectClient(await listen(app), 'express()');
  return out;
}

/**
 * What a new connection pays on a busy server, where a syscall costs more
 * than in a loop on one hot socket: two apps time, per connection, Node's
 * first remoteAddress read and toa.express()'s first call, with wrk opening
 * connection after connection. Wall time: a call preempted midway counts,
 * which the median of each round leaves out.
 */
async function firstCallsUnderLoad(toa: Toa, rounds: number, pin: string[], listen: Listen): Promise<FirstCallsUnderLoad> {
  const mw = toa.express();
  const timed = (op: Route) => {
    const ns: number[] = [];
    const app = appWith([
      (req, res, next) => {
        const t = process.hrtime.bigint();
        op(req, res);
        ns.push(Number(process.hrtime.bigint() - t));
        next();
      },
    ]);
    return { ns, app };
  };
  const plain = timed((req) => void req.socket.remoteAddress);
  const withToa = timed((req, res) => mw(req, res, () => {}));
  const ports = [await listen(plain.app), await listen(withToa.app)];
  await expectClient(ports[1], 'express()');
  const out: FirstCallsUnderLoad = { remoteAddress: [], toa: [] };
  for (const port of ports) await rate(port, 1, true, pin);
  for (let i = 0; i < rounds; i++) {
    for (const [j, t] of [plain, withToa].entries()) {
      t.ns.length = 0;
      await rate(ports[j], 2, true, pin);
      (j ? out.toa : out.remoteAddress).push(median(t.ns));
    }
  }
  return out;
}

export async function benchExpress(opts: { rounds?: number; seconds?: number } = {}): Promise<{ rates: ExpressRates[]; calls: MiddlewareCalls; underLoad: FirstCallsUnderLoad }> {
  const rounds = opts.rounds ?? 4;
  const seconds = opts.seconds ?? 4;
  const noBpf = bpfUnavailable();
  // Without records both toa variants would time the fallback: no comparison worth printing.
  if (noBpf) throw new Error(`the Express rows need a real records map: ${noBpf}`);
  const map = new TestMap('benchx');
  const toa = create({ pinDir: map.pinDir });
  const rec = makeRecord({ family: 4, dialect: 1, address: CLIENT.split('.').map(Number), port: 40000, peerFamily: 4, peerAddress: [192, 0, 2, 1], peerPort: 61000, flags: 2 });
  const servers: http.Server[] = [];
  const app = (v: Variant) => appWith(v === 'express()' ? [toa.express()] : v === 'empty middleware' ? [emptyMiddleware] : []);
  const listen: Listen = async (app, v) => {
    const server = http.createServer(app);
    if (v === 'install()') toa.install(server);
    server.keepAliveTimeout = 60_000;
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    servers.push(server);
    return (server.address() as AddressInfo).port;
  };
  const pin = pinCpus();
  let unfill: (() => void) | undefined;
  try {
    // Records made by the kernel at accept, as on a real server: the apps pay nothing for them.
    unfill = map.fillOnAccept(rec);
    const ports = {} as Record<Variant, number>;
    for (const v of VARIANTS) ports[v] = await listen(app(v), v);
    for (const v of ['express()', 'install()'] as const) await expectClient(ports[v], v);
    const out: ExpressRates[] = [];
    for (const mode of ['keep-alive', 'close'] as const) {
      const perVariant = () => Object.fromEntries(VARIANTS.map((v) => [v, []])) as unknown as Record<Variant, number[]>;
      const r: ExpressRates = { mode, rate: perVariant(), cpu: perVariant() };
      // Unmeasured: every server's code optimised before the first round counts.
      for (const v of VARIANTS) await rate(ports[v], 1, mode === 'close', pin.client);
      // Forward, then backward: a machine getting busier or quieter during the run weighs on all alike.
      for (let i = 0; i < rounds; i++) {
        for (const v of i % 2 ? [...VARIANTS].reverse() : VARIANTS) {
          const x = await rate(ports[v], seconds, mode === 'close', pin.client);
          r.rate[v].push(x.rate);
          r.cpu[v].push(x.cpu);
        }
      }
      out.push(r);
    }
    return { rates: out, underLoad: await firstCallsUnderLoad(toa, rounds, pin.client, listen), calls: await middlewareCalls(toa, rounds, listen) };
  } finally {
    pin.restore();
    for (const s of servers) {
      s.closeAllConnections();
      s.close();
    }
    try {
      unfill?.();
    } finally {
      map.destroy();
    }
  }
}
