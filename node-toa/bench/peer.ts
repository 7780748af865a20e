/**
 * The first peer() on a new connection, per backend and per situation a host
 * can be in, next to socket.remoteAddress's first read (a getpeername) on the
 * same socket in the same rounds:
 *   record found        a pinned records map holding this socket's record
 *   map without record  a pinned map, nothing for this socket
 *   nothing pinned      no map, toa.ko not loaded (dev machines, toa.ko-less hosts)
 *   toa.ko              its getsockopt seam; needs the module, so measured only where it is loaded
 * "First" is what a new connection pays: the socket's cache is cleared, and
 * so is Node's cached address, before each call. Costs are CPU time per call. Records need root (a real
 * pinned map); without it only "nothing pinned" is measured.
 */
import type { Socket } from 'node:net';
import { selectBackend } from '../src/backends/index.js';
import { Reader } from '../src/reader.js';
import type { BackendName } from '../src/types.js';
import { bpfUnavailable, makeRecord, TestMap } from '../test/helpers/bpfmap.js';
import { fdOf, pair, type Pair } from '../test/helpers/sockets.js';

export type Situation = 'record found' | 'map without record' | 'nothing pinned' | 'toa.ko';

export interface FirstPeerRow {
  backend: BackendName;
  situation: Situation;
  /** socket.remoteAddress, first read, in the same rounds (ns per call). */
  remoteAddress: number[];
  /** peer(), first call on the connection (ns per call). */
  peer: number[];
}

/**
 * CPU time per call (user + system), not wall time: on a machine shared with
 * other work, wall time mostly measures waiting for a core.
 */
export function nsPerOp(iterations: number, f: () => void): number {
  for (let i = 0; i < Math.min(5_000, iterations); i++) f(); // warm up
  const t0 = process.cpuUsage();
  for (let i = 0; i < iterations; i++) f();
  const t = process.cpuUsage(t0);
  return ((t.user + t.system) * 1000) / iterations;
}

const rec = makeRecord({ family: 4, dialect: 1, address: [198, 51, 100, 10], port: 40000, peerFamily: 4, peerAddress: [192, 0, 2, 1], peerPort: 61000, flags: 2 });

/** Is toa.ko loaded here (its getsockopt answers)? Only then is its seam measurable. */
function toaKoLoaded(): boolean {
  try {
    return require('node:fs').readFileSync('/proc/modules', 'utf8').split('\n').some((l: string) => l.startsWith('toa '));
  } catch {
    return false;
  }
}

export async function benchFirstPeer(opts: { rounds?: number; iterations?: number } = {}): Promise<{ rows: FirstPeerRow[]; skipped: string[] }> {
  const rounds = opts.rounds ?? 5;
  const iterations = opts.iterations ?? 50_000;
  const skipped: string[] = [];
  const noBpf = bpfUnavailable();
  const map = noBpf ? undefined : new TestMap('bench');
  if (noBpf) skipped.push(`record found, map without record: ${noBpf}`);
  if (!toaKoLoaded()) skipped.push('toa.ko: the module is not loaded on this host (npm run bench vm measures its getsockopt in a guest)');
  const nothing = `/sys/fs/bpf/toanode-none-${process.pid}`;
  const withRec = await pair('127.0.0.1', '127.0.0.1', (s) => map?.put(fdOf(s), rec));
  const noRec = await pair('127.0.0.1', '127.0.0.1');
  const rows: FirstPeerRow[] = [];
  try {
    const cases: { situation: Situation; pinDir: string; p: Pair; via: 'toa' | 'socket' }[] = [
      ...(map ? [
        { situation: 'record found' as const, pinDir: map.pinDir, p: withRec, via: 'toa' as const },
        { situation: 'map without record' as const, pinDir: map.pinDir, p: noRec, via: 'socket' as const },
      ] : []),
      { situation: 'nothing pinned', pinDir: nothing, p: noRec, via: 'socket' },
    ];
    for (const name of ['native', 'ffi', 'socket'] as BackendName[]) {
      const { backend, info } = selectBackend(name);
      for (const c of cases) {
        if (name === 'socket' && c.situation !== 'nothing pinned') continue; // it reads no records
        const reader = new Reader({ backend, info, pinDir: c.pinDir, strict: false });
        const s = c.p.server as Socket & { _peername?: unknown } & Record<symbol, unknown>;
        if (reader.peer(s).via !== (name === 'socket' ? 'socket' : c.via)) throw new Error(`${name}, ${c.situation}: wrong answer`);
        const it = name === 'ffi' ? Math.ceil(iterations / 10) : iterations;
        const row: FirstPeerRow = { backend: name, situation: c.situation, remoteAddress: [], peer: [] };
        for (let r = 0; r < rounds; r++) {
          row.remoteAddress.push(nsPerOp(it, () => { s._peername = undefined; void s.remoteAddress; }));
          row.peer.push(nsPerOp(it, () => { s[reader.kPeer] = undefined; s._peername = undefined; reader.peer(s); }));
        }
        rows.push(row);
      }
    }
  } finally {
    await withRec.close();
    await noRec.close();
    map?.destroy();
  }
  return { rows, skipped };
}
