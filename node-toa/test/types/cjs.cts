// The public types through require() (node16/nodenext .cts).
import toa = require('node-toa');
import { create, peer, ToaError, type Peer } from 'node-toa';
import net = require('node:net');
import Fastify = require('fastify');
import { expectTypeOf } from 'expect-type';

declare const socket: net.Socket;
expectTypeOf(toa.peer(socket)).toEqualTypeOf<toa.Peer>();
expectTypeOf(peer(socket)).toEqualTypeOf<Peer>();
expectTypeOf(toa.pinDir).toEqualTypeOf<string>();
expectTypeOf(toa.create().pinDir).toEqualTypeOf<string>();
expectTypeOf(create).toEqualTypeOf(toa.create);
expectTypeOf(toa.default).toEqualTypeOf<toa.NodeToa>();
const e: toa.ToaError = new ToaError('TOA_EINVAL', 'x');
void e;
const t: toa.Toa = toa.create({ pinDir: '/sys/fs/bpf/toa' });
void t;

const app = Fastify();
void app.register(toa.fastify).after(() => {
  app.get('/', async (request) => {
    expectTypeOf(request.toa).toEqualTypeOf<Peer | null>();
    return null;
  });
});
