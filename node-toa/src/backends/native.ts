/** The native addon (C, Node-API): raw bpf(2) and getsockopt, ~1 µs a lookup; one map fd per reader. */
import type { SocketAddress } from '../types.js';
import { packageRoot, type Backend, type MapReader } from './backend.js';

interface Addon {
  MapReader: new (path: string) => MapReader;
  getpeername(fd: number): SocketAddress;
}

/** Loads the addon: the local build if there is one, else the prebuild for this platform. Throws if neither loads. */
export function loadNative(): { backend: Backend; from: string } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const gypBuild = require('node-gyp-build') as ((dir: string) => Addon) & { resolve(dir: string): string };
  const dir = packageRoot();
  const from = gypBuild.resolve(dir);
  const addon = gypBuild(dir);
  const backend: Backend = {
    name: 'native',
    open: (mapPath) => new addon.MapReader(mapPath),
    getpeername: addon.getpeername,
  };
  return { backend, from };
}
