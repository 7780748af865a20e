/**
 * An app that reads its clients through the toa npm package (strict: no
 * silent fallback to the socket's address), for tests of who may read
 * records (it may run as an ordinary user).
 *
 *   GET / -> {"peer": Peer, "backend": name} or {"error": code, "message"}
 *
 * Usage: toa-peer.ts [--port N]; prints "listening PORT" when ready. Reads
 * TOA_PIN_DIR like any app using the package.
 */
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import toaModule from '../../../node-toa/src/index.js';

const { values } = parseArgs({ options: { port: { type: 'string', default: '80' } } });
const toa = toaModule.create({ strict: true });

const server = createServer((req, res) => {
  let body: unknown;
  try {
    body = { peer: toa.peer(req.socket), backend: toa.backend.name };
  } catch (e) {
    const err = e as { code?: string; message?: string };
    body = { error: err.code ?? 'unknown', message: err.message };
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
});
server.listen({ host: '::', port: Number(values.port), ipv6Only: false }, () => {
  process.stdout.write(`listening ${values.port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
