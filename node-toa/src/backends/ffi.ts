/**
 * The ffi-rs backend: the same system calls as the native addon, made through
 * libc's syscall() and getsockopt(). No compiler and no prebuild needed, a few
 * µs slower per lookup. Scratch memory is one malloc'd block seen from JS as a
 * Buffer (no copies); bpf_attr points into it by address.
 */
import { statSync } from 'node:fs';
import { formatIPv4, formatIPv6 } from '../wire.js';
import type { SocketAddress } from '../types.js';
import { FOUND_BPF, FOUND_SOCKOPT, NO_SOURCE, RECORD_SIZE, TOA_SO_RECORD, type Backend, type MapReader } from './backend.js';

type Ffi = typeof import('ffi-rs');
interface Errno<T> { value: T; errnoCode: number; errnoMessage: string }

const SYS_BPF: Partial<Record<string, number>> = { x64: 321, arm64: 280 };
// bpf commands and constants (linux/bpf.h)
const BPF_MAP_LOOKUP_ELEM = 1;
const BPF_OBJ_GET = 7;
const BPF_OBJ_GET_INFO_BY_FD = 15;
const BPF_F_RDONLY = 1 << 3;
const BPF_MAP_TYPE_SK_STORAGE = 24;
// socket constants (Linux, all architectures node runs on)
const SOL_SOCKET = 1;
const SO_DOMAIN = 39;
const SOL_IP = 0;
const SOL_IPV6 = 41;
const AF_INET = 2;
const AF_INET6 = 10;
const E = { ENOENT: 2, EBADF: 9, EACCES: 13, ENOTDIR: 20, EPERM: 1, ENOTSOCK: 88, ENOPROTOOPT: 92, EOPNOTSUPP: 95, ENOTCONN: 107, EPROTO: 71 };

// Scratch layout.
const ATTR = 0; // union bpf_attr, 32 bytes used
const KEY = 64; // int fd
const DOMAIN_LEN = 68; // socklen_t for SO_DOMAIN
const DOMAIN = 72; // int
const REC_LEN = 76; // socklen_t for TOA_SO_RECORD
const REC = 80; // struct toa_record
const INFO = 128; // struct bpf_map_info (kernel writes at most INFO_LEN)
const INFO_LEN = 80;
const PEER_LEN = 208; // socklen_t for getpeername
const PEER = 216; // struct sockaddr_storage, 128 bytes
const PATH = 344; // NUL-terminated map path
const SCRATCH = 4096 + PATH;

function sysError(code: string, syscall: string, errno: number, message: string) {
  return Object.assign(new Error(`${syscall}: ${message}`), { code, syscall, errno });
}

function fdCode(errno: number): string | undefined {
  if (errno === E.EBADF) return 'TOA_EBADF';
  if (errno === E.ENOTSOCK) return 'TOA_ENOTSOCK';
  if (errno === E.EPERM || errno === E.EACCES) return 'TOA_EPERM';
  return undefined;
}

/** The C library's file name: glibc's, or musl's (Alpine) where Node runs on musl. */
function libcPath(): string {
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  if (header?.glibcVersionRuntime) return 'libc.so.6';
  return `libc.musl-${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}.so.1`;
}

// How often a miss may check that the pin still names the open map.
const PIN_CHECK_MS = 1000;

/** Loads ffi-rs and libc. Throws if either is missing or the architecture is unknown. */
export function loadFfi(): { backend: Backend; from: string } {
  if (process.platform !== 'linux') throw new Error(`TOA records exist on Linux only, not on ${process.platform}`);
  const nr = SYS_BPF[process.arch];
  if (nr === undefined) throw new Error(`no bpf syscall number known for ${process.arch}`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ffi = require('ffi-rs') as Ffi;
  const { DataType: T } = ffi;
  ffi.open({ library: 'libc', path: libcPath() });
  const libc = ffi.define({
    malloc: { library: 'libc', retType: T.External, paramsType: [T.I64] },
    memcpy: { library: 'libc', retType: T.I64, paramsType: [T.External, T.External, T.I64] },
    syscall: { library: 'libc', retType: T.I64, paramsType: [T.I64, T.I64, T.I64, T.I64], errno: true },
    getsockopt: { library: 'libc', retType: T.I32, paramsType: [T.I32, T.I32, T.I32, T.I64, T.I64], errno: true },
    getpeername: { library: 'libc', retType: T.I32, paramsType: [T.I32, T.I64, T.I64], errno: true },
    close: { library: 'libc', retType: T.I32, paramsType: [T.I32] },
  });
  const ext = libc.malloc([SCRATCH]) as unknown;
  if (ffi.isNullPointer(ext as never)) throw new Error('malloc failed');
  // The block's address as a number (memcpy returns dest), for pointers inside bpf_attr.
  const base = libc.memcpy([ext, ext, 0]) as number;
  const mem = ffi.createExternalBuffer(ext as never, SCRATCH);
  mem.fill(0);

  const syscall = libc.syscall as (v: unknown[]) => Errno<number>;
  const getsockopt = libc.getsockopt as (v: unknown[]) => Errno<number>;
  const getpeername = libc.getpeername as (v: unknown[]) => Errno<number>;
  const bpf = (cmd: number, size: number) => syscall([nr, cmd, base + ATTR, size]);

  // The reader whose path is in the scratch block (readers share the block; JS is single-threaded).
  let pathOwner: object | undefined;
  // A collected reader's map fd is closed, not leaked.
  const fds = new FinalizationRegistry<{ fd: number }>((held) => {
    if (held.fd >= 0) libc.close([held.fd]);
  });

  /** Per-reader state: its own map fd. */
  class Reader implements MapReader {
    private readonly held = { fd: -1 };
    private ino = -1n;
    private dev = -1n;
    private checked = 0;
    private readonly bytes: Buffer;

    constructor(private readonly mapPath: string) {
      fds.register(this, this.held);
      this.bytes = Buffer.from(mapPath, 'utf8');
      if (this.bytes.includes(0) || this.bytes.length >= SCRATCH - PATH) {
        throw Object.assign(new TypeError('open(path): path is too long or contains a NUL byte'), { code: 'TOA_EINVAL' });
      }
    }

    reset() {
      if (this.held.fd >= 0) libc.close([this.held.fd]);
      this.held.fd = -1;
    }

    // 1 open, 0 nothing pinned, throws on error (as the native addon does).
    private openMap(): number {
      if (!this.mapPath) return 0;
      if (pathOwner !== this) {
        this.bytes.copy(mem, PATH);
        mem[PATH + this.bytes.length] = 0;
        pathOwner = this;
      }
      mem.fill(0, ATTR, ATTR + 32);
      mem.writeBigUInt64LE(BigInt(base + PATH), ATTR); // pathname
      mem.writeUInt32LE(BPF_F_RDONLY, ATTR + 12); // file_flags
      const r = bpf(BPF_OBJ_GET, 16);
      if (r.value < 0) {
        if (r.errnoCode === E.ENOENT || r.errnoCode === E.ENOTDIR) return 0;
        const code = r.errnoCode === E.EPERM || r.errnoCode === E.EACCES ? 'TOA_EPERM' : 'TOA_EMAP';
        throw sysError(code, 'bpf(BPF_OBJ_GET)', r.errnoCode, r.errnoMessage);
      }
      const fd = r.value;
      mem.fill(0, ATTR, ATTR + 32);
      mem.fill(0, INFO, INFO + INFO_LEN);
      mem.writeUInt32LE(fd, ATTR); // info.bpf_fd
      mem.writeUInt32LE(INFO_LEN, ATTR + 4); // info.info_len
      mem.writeBigUInt64LE(BigInt(base + INFO), ATTR + 8); // info.info
      const ri = bpf(BPF_OBJ_GET_INFO_BY_FD, 16);
      const type = mem.readUInt32LE(INFO);
      const keySize = mem.readUInt32LE(INFO + 8);
      const valueSize = mem.readUInt32LE(INFO + 12);
      if (ri.value < 0 || type !== BPF_MAP_TYPE_SK_STORAGE || keySize !== 4 || valueSize !== RECORD_SIZE) {
        libc.close([fd]);
        const errno = ri.value < 0 ? ri.errnoCode : 22;
        throw sysError('TOA_EMAP', 'bpf(BPF_OBJ_GET_INFO_BY_FD)', errno, ri.value < 0 ? ri.errnoMessage : 'Invalid argument');
      }
      const st = statSync(this.mapPath, { bigint: true, throwIfNoEntry: false });
      this.ino = st?.ino ?? -1n;
      this.dev = st?.dev ?? -1n;
      this.checked = Date.now();
      this.held.fd = fd;
      return 1;
    }

    private pinUnchanged(): boolean {
      const st = statSync(this.mapPath, { bigint: true, throwIfNoEntry: false });
      return st !== undefined && st.ino === this.ino && st.dev === this.dev;
    }

    lookup(fd: number, out: Uint8Array, hint = 0): number {
      if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) {
        throw Object.assign(new TypeError('lookup(fd, out): fd must be an integer >= 0'), { code: 'TOA_EINVAL' });
      }
      if (!(out instanceof Uint8Array) || out.byteLength < RECORD_SIZE) {
        throw Object.assign(new TypeError('lookup(fd, out): out must be a Uint8Array of 44 bytes'), { code: 'TOA_EINVAL' });
      }
      if (hint !== 0 && hint !== 4 && hint !== 6) {
        throw Object.assign(new TypeError('lookup(fd, out, family): family must be 0, 4 or 6'), { code: 'TOA_EINVAL' });
      }
      for (let round = 0; round < 2; round++) {
        if (this.held.fd < 0 && this.openMap() === 0) return sockoptRecord(fd, out, hint);
        mem.fill(0, ATTR, ATTR + 32);
        mem.writeUInt32LE(this.held.fd, ATTR); // map_fd
        mem.writeInt32LE(fd, KEY);
        mem.writeBigUInt64LE(BigInt(base + KEY), ATTR + 8); // key
        mem.writeBigUInt64LE(BigInt(base + REC), ATTR + 16); // value
        const r = bpf(BPF_MAP_LOOKUP_ELEM, 32);
        if (r.value === 0) {
          const fam = hint || family(fd);
          mem.copy(out, 0, REC, REC + RECORD_SIZE);
          return FOUND_BPF | fam;
        }
        if (r.errnoCode !== E.ENOENT) {
          throw sysError(fdCode(r.errnoCode) ?? 'TOA_ELOOKUP', 'bpf(BPF_MAP_LOOKUP_ELEM)', r.errnoCode, r.errnoMessage);
        }
        const now = Date.now();
        if (now - this.checked < PIN_CHECK_MS) return 0;
        this.checked = now;
        if (this.pinUnchanged()) return 0;
        this.reset();
      }
      return 0;
    }
  }

  function family(fd: number): number {
    mem.writeInt32LE(4, DOMAIN_LEN);
    const r = getsockopt([fd, SOL_SOCKET, SO_DOMAIN, base + DOMAIN, base + DOMAIN_LEN]);
    if (r.value < 0) throw sysError(fdCode(r.errnoCode) ?? 'TOA_ESYSCALL', 'getsockopt(SO_DOMAIN)', r.errnoCode, r.errnoMessage);
    const d = mem.readInt32LE(DOMAIN);
    return d === AF_INET ? 4 : d === AF_INET6 ? 6 : 0;
  }

  function sockoptRecord(fd: number, out: Uint8Array, hint: number): number {
    const fam = hint || family(fd);
    if (fam === 0) return 0;
    mem.writeInt32LE(RECORD_SIZE, REC_LEN);
    const r = getsockopt([fd, fam === 6 ? SOL_IPV6 : SOL_IP, TOA_SO_RECORD, base + REC, base + REC_LEN]);
    if (r.value === 0) {
      if (mem.readInt32LE(REC_LEN) !== RECORD_SIZE) throw sysError('TOA_ERECORD', 'getsockopt(TOA_SO_RECORD)', E.EPROTO, 'Protocol error');
      mem.copy(out, 0, REC, REC + RECORD_SIZE);
      return FOUND_SOCKOPT | fam;
    }
    if (r.errnoCode === E.ENOENT) return 0;
    if (r.errnoCode === E.ENOPROTOOPT || r.errnoCode === E.EOPNOTSUPP) return NO_SOURCE;
    throw sysError(fdCode(r.errnoCode) ?? 'TOA_ESYSCALL', 'getsockopt(TOA_SO_RECORD)', r.errnoCode, r.errnoMessage);
  }

  const backend: Backend = {
    name: 'ffi',
    open: (mapPath) => new Reader(mapPath),
    getpeername(fd: number): SocketAddress {
      if (!Number.isInteger(fd) || fd < 0) {
        throw Object.assign(new TypeError('getpeername(fd): fd must be an integer >= 0'), { code: 'TOA_EINVAL' });
      }
      mem.writeUInt32LE(128, PEER_LEN);
      const r = getpeername([fd, base + PEER, base + PEER_LEN]);
      if (r.value < 0) {
        const code = r.errnoCode === E.ENOTCONN ? 'TOA_ESOCKCLOSED' : (fdCode(r.errnoCode) ?? 'TOA_ESYSCALL');
        throw sysError(code, 'getpeername', r.errnoCode, r.errnoMessage);
      }
      const fam = mem.readUInt16LE(PEER);
      const port = mem.readUInt16BE(PEER + 2);
      if (fam === AF_INET) return { address: formatIPv4(mem, PEER + 4), port, family: 4 };
      if (fam === AF_INET6) return { address: formatIPv6(mem, PEER + 8), port, family: 6 };
      throw sysError('TOA_ENOTINET', 'getpeername', 97, 'Address family not supported by protocol');
    },
  };
  return { backend, from: 'ffi-rs' };
}
