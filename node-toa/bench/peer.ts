/**
 * Per-call cost of peer() per backend next to socket.remoteAddress, on a
 * real loopback connection whose record sits in a real pinned map (as root;
 * otherwise with nothing pinned). "Uncached" is the per-connection cost
 * (one lookup); "cached" is what every further request pays.
 */
import type { Socket } from 'node:net';
import { selectBackend } from '../src/backends/index.js';
import { Reader } from '../src/reader.js';
import type { BackendName } from '../src/types.js';
import { bpfUnavailable, makeRecord, TestMap } from '../test/helpers/bpfmap.js';
import { fdOf, pair } from '../test/helpers/sockets.js';

export interface PeerCost {
  name: string;
  nsPerOp: number;
}

function nsPerOp(iterations: number, f: () => void): number {
  for (let i = 0; i < Math.min(10_000, iterations); i++) f(); // warm up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) f();
  return Number(process.hrtime.bigint() - t0) / iterations;
}

/** Median of rounds measurements of f. */
function measure(rounds: number, iterations: number, f: () => void): number {
  const xs = Array.from({ length: rounds }, () => nsPerOp(iterations, f)).sort((a, b) => a - b);
  return xs[xs.length >> 1];
}

export async function benchPeerCost(opts: { rounds?: number; iterations?: number } = {}): Promise<{ withRecord: boolean; rows: PeerCost[] }> {
  const rounds = opts.rounds ?? 5;
  const iterations = opts.iterations ?? 100_000;
  const withRecord = bpfUnavailable() === null;
  const map = withRecord ? new TestMap('bench') : undefined;
  const pinDir = map?.pinDir ?? `/sys/fs/bpf/toanode-none-${process.pid}`;
  const rec = makeRecord({ family: 4, dialect: 1, address: [198, 51, 100, 10], port: 40000, peerFamily: 4, peerAddress: [192, 0, 2, 1], peerPort: 61000, flags: 2 });
  const p = await pair('127.0.0.1', '127.0.0.1', (s) => map?.put(fdOf(s), rec));
  const rows: PeerCost[] = [];
  try {
    const s = p.server as Socket & { _peername?: unknown };
    rows.push({ name: 'socket.remoteAddress, first read (getpeername)', nsPerOp: measure(rounds, iterations, () => { s._peername = undefined; void s.remoteAddress; }) });
    rows.push({ name: 'socket.remoteAddress, cached', nsPerOp: measure(rounds, iterations, () => void s.remoteAddress) });
    for (const name of ['native', 'ffi', 'socket'] as BackendName[]) {
      const { backend, info } = selectBackend(name);
      const reader = new Reader({ backend, info, pinDir, strict: false });
      const cache = s as unknown as Record<symbol, unknown>;
      const it = name === 'ffi' ? Math.ceil(iterations / 10) : iterations;
      rows.push({ name: `peer() ${name}, per connection (lookup)`, nsPerOp: measure(rounds, it, () => { cache[reader.kPeer] = undefined; s._peername = undefined; reader.peer(s); }) });
      rows.push({ name: `peer() ${name}, per request (cached)`, nsPerOp: measure(rounds, iterations, () => reader.peer(s)) });
      if (name !== 'socket' && withRecord && reader.peer(s).via !== 'toa') throw new Error(`${name}: the record was not found`);
    }
  } finally {
    await p.close();
    map?.destroy();
  }
  return { withRecord, rows };
}
