/**
 * The lab's HTTP client, run inside the client (or stranger) namespace.
 * Makes requests and prints one JSON document: for each request the local
 * address and port it left from and what came back.
 *
 *   http-client.ts --url URL [--count N] [--concurrency C] [--close]
 *                  [--per-connection K] [--post-bytes N] [--expect-bytes N]
 *                  [--local ADDR]... (round robin over source addresses)
 *
 * --post-bytes sends N pattern bytes as the body; --expect-bytes checks that
 * the response body is N pattern bytes (for /bytes/N).
 */
import { request, Agent, type IncomingMessage } from 'node:http';
import { parseArgs } from 'node:util';
import { pattern, patternMismatch } from '../pattern.js';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    count: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '1' },
    close: { type: 'boolean', default: false },
    'per-connection': { type: 'string', default: '1' },
    'post-bytes': { type: 'string' },
    'expect-bytes': { type: 'string' },
    local: { type: 'string', multiple: true },
    timeout: { type: 'string', default: '30000' },
  },
});
if (!values.url) {
  process.stderr.write('http-client: --url is required\n');
  process.exit(2);
}

interface Result {
  localAddress?: string;
  localPort?: number;
  status?: number;
  body?: unknown;
  bytes?: number;
  error?: string;
}

const count = Number(values.count);
const concurrency = Math.max(1, Number(values.concurrency));
const perConnection = Math.max(1, Number(values['per-connection']));
const postBytes = values['post-bytes'] ? Number(values['post-bytes']) : 0;
const expectBytes = values['expect-bytes'] ? Number(values['expect-bytes']) : undefined;
const locals = values.local ?? [];
const timeout = Number(values.timeout);

function once(localAddress: string | undefined, agent: Agent | false): Promise<Result> {
  return new Promise((resolve) => {
    const r: Result = {};
    const req = request(values.url!, {
      method: postBytes ? 'POST' : 'GET',
      agent,
      localAddress,
      headers: values.close ? { connection: 'close' } : {},
      timeout,
    });
    req.on('socket', (s) => {
      const note = (): void => {
        r.localAddress = s.localAddress;
        r.localPort = s.localPort;
      };
      if (s.localPort) note();
      else s.once('connect', note);
    });
    req.on('timeout', () => req.destroy(new Error(`timed out after ${timeout} ms`)));
    req.on('error', (e) => resolve({ ...r, error: e.message }));
    req.on('response', (res: IncomingMessage) => {
      r.status = res.statusCode;
      const chunks: Buffer[] = [];
      let got = 0;
      let bad = -1;
      res.on('data', (d: Buffer) => {
        if (expectBytes !== undefined) {
          if (bad < 0) {
            const at = patternMismatch(d, got);
            if (at >= 0) bad = got + at;
          }
        } else chunks.push(d);
        got += d.length;
      });
      res.on('end', () => {
        r.bytes = got;
        if (expectBytes !== undefined) {
          if (got !== expectBytes) r.error = `got ${got} bytes, expected ${expectBytes}`;
          else if (bad >= 0) r.error = `byte ${bad} differs from the pattern`;
        } else {
          const text = Buffer.concat(chunks).toString('utf8');
          try {
            r.body = JSON.parse(text);
          } catch {
            r.body = text;
          }
        }
        resolve(r);
      });
      res.on('error', (e) => resolve({ ...r, error: e.message }));
    });
    if (postBytes) {
      const chunk = 64 * 1024;
      let sent = 0;
      const pump = (): void => {
        while (sent < postBytes) {
          const len = Math.min(chunk, postBytes - sent);
          const ok = req.write(pattern(sent, len));
          sent += len;
          if (!ok) {
            req.once('drain', pump);
            return;
          }
        }
        req.end();
      };
      pump();
    } else req.end();
  });
}

async function main(): Promise<void> {
  const results: Result[] = new Array(count);
  let next = 0;
  const worker = async (w: number): Promise<void> => {
    while (next < count) {
      const first = next;
      next += perConnection;
      const local = locals.length ? locals[(first / perConnection) % locals.length] : undefined;
      // One connection carries perConnection requests (keep-alive) unless --close.
      const agent = values.close || perConnection === 1 ? false : new Agent({ keepAlive: true, maxSockets: 1 });
      for (let i = first; i < Math.min(first + perConnection, count); i++) results[i] = await once(local, agent);
      if (agent) agent.destroy();
    }
    void w;
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, (_, w) => worker(w)));
  process.stdout.write(JSON.stringify(results) + '\n');
}

void main();
