// The public types as an ES module sees them (node16/nodenext .mts, bundler).
// Compiled by ../unit/types.test.ts under each moduleResolution; a wrong type
// fails the compile.
import http from 'node:http';
import net from 'node:net';
import Fastify from 'fastify';
import { expectTypeOf } from 'expect-type';
import toa, {
  backend, create, fastify, getpeername, install, peer, pinDir, record, reset, ToaError,
  type BackendName, type NodeToa, type Peer, type Toa, type ToaErrorCode, type ToaOptions,
} from 'node-toa';

declare const socket: net.Socket;
declare const req: http.IncomingMessage;

// The default export is the module object: every member, create and ToaError included.
expectTypeOf(toa).toEqualTypeOf<NodeToa>();
expectTypeOf(toa.default).toEqualTypeOf<NodeToa>();
expectTypeOf(toa.pinDir).toEqualTypeOf<string>();
expectTypeOf(toa.create).toEqualTypeOf(create);
expectTypeOf(toa.ToaError).toEqualTypeOf(ToaError);
expectTypeOf(pinDir).toEqualTypeOf<string>();
expectTypeOf(reset).toEqualTypeOf<() => void>();
// Named exports are the object's members.
expectTypeOf(peer).toEqualTypeOf(toa.peer);
expectTypeOf(peer(socket)).toEqualTypeOf<Peer>();
expectTypeOf(toa.peer(req).via).toEqualTypeOf<'toa' | 'socket'>();
expectTypeOf(peer(req).family).toEqualTypeOf<4 | 6>();
expectTypeOf(peer(req).proxy).toEqualTypeOf<{ address: string; port: number } | undefined>();
expectTypeOf(install(http.createServer())).toEqualTypeOf<http.Server>();
expectTypeOf(backend.name).toEqualTypeOf<BackendName>();
expectTypeOf(record(socket)).toEqualTypeOf<Uint8Array | null>();
expectTypeOf(getpeername(socket).family).toEqualTypeOf<4 | 6>();
expectTypeOf(create({ backend: 'ffi', strict: true })).toEqualTypeOf<Toa>();
expectTypeOf<ToaOptions['strict']>().toEqualTypeOf<boolean | undefined>();
// ToaError is a class: a value and a type.
const e: ToaError = new ToaError('TOA_EPERM', 'x');
expectTypeOf(e.code).toEqualTypeOf<ToaErrorCode>();
expectTypeOf<'TOA_ELOOKUP'>().toExtend<ToaErrorCode>();
// @ts-expect-error: not a backend
create({ backend: 'rust' });
// @ts-expect-error: not a socket-like value
peer(42);
// @ts-expect-error: create() makes configurations, not modules
create().create;

// Fastify: register and request.toa with no augmentation in this file.
const app = Fastify();
await app.register(fastify);
await app.register(toa.fastify);
app.get('/', async (request) => {
  expectTypeOf(request.toa).toEqualTypeOf<Peer | null>();
  return request.toa?.address;
});
