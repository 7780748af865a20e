/** The shape every backend has: the native addon, ffi-rs, or the socket alone. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { BackendName, SocketAddress } from '../types.js';

/** Size of struct toa_record (include/toa/toa_record.h). */
export const RECORD_SIZE = 44;
/** toa.ko's getsockopt option (include/toa/toa_record.h). */
export const TOA_SO_RECORD = 0x544f;
/** lookup() result bits: the socket's family (4/6) in the low byte, the source above. */
export const FOUND_BPF = 0x100;
export const FOUND_SOCKOPT = 0x200;
/** lookup() result with no record: neither a map is pinned nor toa.ko loaded. */
export const NO_SOURCE = 0x400;

/** One reader of the records map pinned at a path: its own map fd, never shared. */
export interface MapReader {
  /** Forgets the map fd (the next lookup opens the pin again). */
  reset(): void;
  /**
   * Copies fd's record into out (RECORD_SIZE bytes). Returns 0 when the socket
   * has none (NO_SOURCE when nothing is attached at all), family (4/6) is the
   * socket's when known (saves a syscall), else FOUND_* | the socket's family. Throws { code, syscall, errno }.
   */
  lookup(fd: number, out: Uint8Array, family?: number): number;
}

export interface Backend {
  readonly name: BackendName;
  /** A reader of the records map pinned at mapPath. */
  open(mapPath: string): MapReader;
  /** getpeername(2) of fd. */
  getpeername(fd: number): SocketAddress;
}

let root: string | undefined;

/** The toa package's folder, found from this file (src/ when run from source, dist/cjs/ when built). */
export function packageRoot(): string {
  if (root) return root;
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj) && JSON.parse(readFileSync(pj, 'utf8')).name === 'node-toa') return (root = dir);
    if (dirname(dir) === dir) throw new Error(`node-toa: cannot find the package folder above ${__dirname}`);
  }
}
