/**
 * A server-speaks-first app: on accept it writes one line naming the peer
 * its socket reports (read right at accept, as nginx's $remote_addr is) and
 * closes; the client only reads.
 *
 *   "peer ADDR PORT\n"
 *
 * Usage: banner.ts [--port N]; prints "listening PORT" when ready.
 */
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { port: { type: 'string', default: '25' } } });

const server = createServer((socket) => {
  socket.on('error', () => socket.destroy());
  socket.end(`peer ${socket.remoteAddress} ${socket.remotePort}\n`);
});
server.listen({ host: '::', port: Number(values.port), ipv6Only: false }, () => {
  process.stdout.write(`listening ${values.port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
