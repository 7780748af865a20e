/** The native addon (node-addon-api): raw bpf(2) and getsockopt, ~1 µs a lookup. */
import type { SocketAddress } from '../types.js';
import { packageRoot, type Backend } from './backend.js';

interface Addon {
  setMapPath(path: string): void;
  reset(): void;
  lookup(fd: number, out: Uint8Array, family?: number): number;
  getpeername(fd: number): SocketAddress;
}

/** Loads the addon: the local build if there is one, else the prebuild for this platform. Throws if neither loads. */
export function loadNative(): { backend: Backend; from: string } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const gypBuild = require('node-gyp-build') as ((dir: string) => Addon) & { resolve(dir: string): string };
  const dir = packageRoot();
  const from = gypBuild.resolve(dir);
  const addon = gypBuild(dir);
  let path: string | undefined;
  const backend: Backend = {
    name: 'native',
    // Readers set their path before each lookup; crossing into C++ only on a change.
    setMapPath(p) {
      if (p === path) return;
      addon.setMapPath(p);
      path = p;
    },
    reset: () => addon.reset(),
    lookup: addon.lookup,
    getpeername: addon.getpeername,
  };
  return { backend, from };
}
