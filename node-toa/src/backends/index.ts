/**
 * Picks a backend: the native addon, else ffi-rs, else the socket alone;
 * TOA_BACKEND=native|ffi|socket forces one (for debugging and tests).
 */
import { ToaError } from '../errors.js';
import type { BackendInfo, BackendName } from '../types.js';
import type { Backend } from './backend.js';
import { loadFfi } from './ffi.js';
import { loadNative } from './native.js';
import { socketBackend } from './socket.js';

export const BACKENDS: readonly BackendName[] = ['native', 'ffi', 'socket'];

export interface Selected {
  backend: Backend;
  info: BackendInfo;
}

const loaders: Record<BackendName, () => { backend: Backend; from: string }> = {
  native: loadNative,
  ffi: loadFfi,
  socket: () => ({ backend: socketBackend(), from: '' }),
};

const loaded = new Map<BackendName, { backend: Backend; from: string } | Error>();

function tryLoad(name: BackendName): { backend: Backend; from: string } | Error {
  let r = loaded.get(name);
  if (!r) {
    try {
      r = loaders[name]();
    } catch (err) {
      r = err instanceof Error ? err : new Error(String(err));
    }
    loaded.set(name, r);
  }
  return r;
}

/** Checks a backend name from an option or TOA_BACKEND. */
export function checkBackendName(name: unknown, where: string): BackendName | undefined {
  if (name === undefined || name === '') return undefined;
  if (typeof name === 'string' && (BACKENDS as readonly string[]).includes(name)) return name as BackendName;
  throw new ToaError('TOA_EINVAL', `${where} must be one of ${BACKENDS.join(', ')}, got ${JSON.stringify(name)}`);
}

/**
 * The backend to use. A requested one that cannot load is an error
 * (TOA_EBACKEND); without a request the first that loads wins.
 */
export function selectBackend(requested: BackendName | undefined, source = 'backend option'): Selected {
  if (requested) {
    const r = tryLoad(requested);
    if (r instanceof Error) {
      throw new ToaError('TOA_EBACKEND', `${source} asks for the ${requested} backend, which cannot load: ${r.message}`, { cause: r });
    }
    return { backend: r.backend, info: { name: requested, reason: `${source}=${requested}${r.from ? ` (${r.from})` : ''}` } };
  }
  const native = tryLoad('native');
  if (!(native instanceof Error)) return { backend: native.backend, info: { name: 'native', reason: `native addon loaded from ${native.from}` } };
  const ffi = tryLoad('ffi');
  if (!(ffi instanceof Error)) {
    return { backend: ffi.backend, info: { name: 'ffi', reason: `native addon unavailable (${firstLine(native.message)}); using ffi-rs` } };
  }
  return {
    backend: socketBackend(),
    info: {
      name: 'socket',
      reason: `native addon unavailable (${firstLine(native.message)}), ffi-rs unavailable (${firstLine(ffi.message)}); reporting socket addresses only`,
    },
  };
}

function firstLine(s: string): string {
  return s.split('\n')[0];
}
