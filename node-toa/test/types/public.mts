// Type tests of the public API through the published entry points (ESM).
// Compiled by types.test.ts; a wrong type fails the compile.
import http from 'node:http';
import net from 'node:net';
import { expectTypeOf } from 'vitest';
import toa, { backend, create, install, peer, ToaError, type BackendName, type Peer, type ToaErrorCode } from 'node-toa';

declare const socket: net.Socket;
declare const req: http.IncomingMessage;

expectTypeOf(peer(socket)).toEqualTypeOf<Peer>();
expectTypeOf(toa.peer(req).via).toEqualTypeOf<'toa' | 'socket'>();
expectTypeOf(peer(req).family).toEqualTypeOf<4 | 6>();
expectTypeOf(peer(req).proxy).toEqualTypeOf<{ address: string; port: number } | undefined>();
expectTypeOf(install(http.createServer())).toEqualTypeOf<http.Server>();
expectTypeOf(backend.name).toEqualTypeOf<BackendName>();
expectTypeOf(create({ backend: 'ffi', strict: true }).record(socket)).toEqualTypeOf<Uint8Array | null>();
expectTypeOf(new ToaError('TOA_EPERM', 'x').code).toEqualTypeOf<ToaErrorCode>();
// @ts-expect-error: not a backend
create({ backend: 'rust' });
// @ts-expect-error: not a socket-like value
peer(42);
