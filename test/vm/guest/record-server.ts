/**
 * In-guest helper: a TCP server that answers each connection with one JSON
 * line, what the kernel says about it: getpeername() as Node sees it and the
 * socket's TOA record read through the toa package (getsockopt TOA_SO_RECORD
 * with toa.ko), as hex or null.
 *
 * Usage: record-server.ts --port N [--host ADDR]; prints "listening" when ready.
 */
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';
import { create } from 'node-toa';

const { values } = parseArgs({ options: { port: { type: 'string' }, host: { type: 'string', default: '::' } } });
const toa = create();

const server = createServer((s) => {
  s.on('error', () => {}); // a client's RST after our answer is its business
  let record: string | null = null;
  let error: string | undefined;
  try {
    const r = toa.record(s);
    record = r ? Buffer.from(r).toString('hex') : null;
  } catch (e) {
    error = `${(e as { code?: string }).code ?? ''} ${(e as Error).message}`;
  }
  s.end(JSON.stringify({ remoteAddress: s.remoteAddress, remotePort: s.remotePort, record, error, backend: toa.backend.name }) + '\n');
});
server.listen({ port: Number(values.port), host: values.host, ipv6Only: false }, () => process.stdout.write('listening\n'));
process.on('SIGTERM', () => process.exit(0));
