/**
 * The lab's real-server app: an HTTP server that answers every request with
 * what its socket reports, so a test can compare it with the true client.
 *
 *   GET  /            -> {"remoteAddress","remotePort","remoteFamily","localAddress","localPort","request"}
 *   POST /            -> the same plus "bodyBytes" and "bodySha256" of what arrived
 *   GET  /bytes/N     -> N bytes of a known pattern (pattern(i) = i * 7 mod 251)
 *
 * Usage: peer-echo.ts [--host ADDR] [--port N]; prints "listening ADDR PORT" when ready.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';
import { pattern } from '../pattern.js';

const { values } = parseArgs({
  options: { host: { type: 'string', default: '::' }, port: { type: 'string', default: '80' } },
});

const requestsOnSocket = new WeakMap<object, number>();

function handle(req: IncomingMessage, res: ServerResponse): void {
  const s = req.socket;
  const n = (requestsOnSocket.get(s) ?? 0) + 1;
  requestsOnSocket.set(s, n);
  const info = {
    remoteAddress: s.remoteAddress,
    remotePort: s.remotePort,
    remoteFamily: s.remoteFamily,
    localAddress: s.localAddress,
    localPort: s.localPort,
    request: n,
  };
  const bytes = /^\/bytes\/(\d+)$/.exec(req.url ?? '');
  if (bytes) {
    const total = Number(bytes[1]);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': total });
    const chunk = 64 * 1024;
    let sent = 0;
    const pump = (): void => {
      while (sent < total) {
        const len = Math.min(chunk, total - sent);
        const ok = res.write(pattern(sent, len));
        sent += len;
        if (!ok) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    pump();
    return;
  }
  const hash = createHash('sha256');
  let bodyBytes = 0;
  req.on('data', (d: Buffer) => {
    bodyBytes += d.length;
    hash.update(d);
  });
  req.on('end', () => {
    const body = req.method === 'POST' ? { ...info, bodyBytes, bodySha256: hash.digest('hex') } : info;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  });
}

const server = createServer(handle);
server.keepAliveTimeout = 30_000;
server.listen({ host: values.host, port: Number(values.port), ipv6Only: false }, () => {
  process.stdout.write(`listening ${values.host} ${values.port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
