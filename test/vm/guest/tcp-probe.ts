/**
 * In-guest helper: connects to HOST PORT, prints one JSON line with its own
 * local address and port and the server's one-line answer.
 * Usage: tcp-probe.ts HOST PORT
 */
import { connect } from 'node:net';

const [host, port] = process.argv.slice(2);
const s = connect({ host, port: Number(port) });
let data = '';
let local: { localAddress?: string; localPort?: number } = {};
s.on('connect', () => (local = { localAddress: s.localAddress, localPort: s.localPort }));
s.setEncoding('utf8');
s.on('data', (d) => (data += d));
s.on('end', () => {
  process.stdout.write(JSON.stringify({ ...local, answer: JSON.parse(data) }) + '\n');
});
s.on('error', (e) => {
  process.stderr.write(`tcp-probe: ${e.message}\n`);
  process.exit(1);
});
setTimeout(() => {
  process.stderr.write('tcp-probe: no answer within 20 s\n');
  process.exit(1);
}, 20_000).unref();
