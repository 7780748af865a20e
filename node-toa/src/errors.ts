/** Errors thrown by node-toa: an Error with a stable `code`, like Node's own. */
import { getSystemErrorMap } from 'node:util';

/** Codes a ToaError can carry. */
export type ToaErrorCode =
  | 'TOA_EINVAL' // a bad argument (not a socket, bad option)
  | 'TOA_ESOCKCLOSED' // the socket is closed: its address is gone
  | 'TOA_ENOFD' // the socket has no file descriptor (not a kernel socket)
  | 'TOA_EBADF' // the fd is not open
  | 'TOA_ENOTSOCK' // the fd is not a socket
  | 'TOA_ENOTINET' // the socket is not an IPv4/IPv6 socket
  | 'TOA_ENOMAP' // strict mode: no records map pinned and toa.ko not loaded
  | 'TOA_EPERM' // this process may not read the pinned map (the pin's file mode, or no CAP_BPF)
  | 'TOA_EMAP' // what is pinned there is not a TOA records map
  | 'TOA_ERECORD' // a record this version cannot read
  | 'TOA_ELOOKUP' // the map lookup failed for another reason
  | 'TOA_EBACKEND' // the requested backend cannot load
  | 'TOA_ESYSCALL'; // any other failing system call

let errnoTexts: Map<number, [string, string]> | undefined;

/** "connection reset by peer" for ECONNRESET's errno (libuv's words, as Node's own errors use). */
function errnoText(errno: number): string | undefined {
  errnoTexts ??= getSystemErrorMap();
  return errnoTexts.get(-errno)?.[1];
}

/** An Error with a `code` (and, for failed system calls, `syscall` and `errno`). */
export class ToaError extends Error {
  readonly code: ToaErrorCode;
  readonly syscall?: string;
  readonly errno?: number;

  constructor(code: ToaErrorCode, message: string, extra?: { syscall?: string; errno?: number; cause?: unknown }) {
    super(message, extra?.cause === undefined ? undefined : { cause: extra.cause });
    this.name = 'ToaError';
    this.code = code;
    if (extra?.syscall !== undefined) this.syscall = extra.syscall;
    if (extra?.errno !== undefined) this.errno = extra.errno;
  }
}

/** True for a ToaError (or any error) with this code. */
export function hasCode(err: unknown, code: ToaErrorCode): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

const EACCES = 13;

const hints: Partial<Record<string, string>> = {
  TOA_EPERM: 'reading the TOA records map needs CAP_BPF (or root)',
  TOA_EMAP: 'the pinned object is not a TOA records map (socket storage, key 4 bytes, value 44 bytes)',
  TOA_EBADF: 'the socket\'s file descriptor is not open',
  TOA_ENOTSOCK: 'the file descriptor is not a socket',
  TOA_ERECORD: 'the record has an unexpected size; toa and the kernel side are out of step',
};

/**
 * Turns a backend's raw failure ({ code, syscall, errno, message }) into a ToaError
 * with one wording for every backend.
 */
export function fromSyscall(raw: unknown, what: string): ToaError {
  const r = raw as { code?: string; syscall?: string; errno?: number; message?: string };
  const code = (typeof r?.code === 'string' && r.code.startsWith('TOA_') ? r.code : 'TOA_ESYSCALL') as ToaErrorCode;
  // EACCES is the pin's file mode (or a directory's); EPERM is a missing capability.
  const hint = code === 'TOA_EPERM' && r?.errno === EACCES
    ? 'the pin file\'s permissions deny this user: see ls -l of the pin; run as its owner or change its mode'
    : hints[code];
  // One wording for every backend: the call, then the C library's words for errno.
  const text = r?.syscall && typeof r.errno === 'number' ? errnoText(r.errno) : undefined;
  const detail = text ? `${r.syscall}: ${text}` : (r?.message ?? String(raw));
  const msg = `${what}: ${detail}${hint ? ` (${hint})` : ''}`;
  return new ToaError(code, msg, { syscall: r?.syscall, errno: r?.errno, cause: raw });
}
