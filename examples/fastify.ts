// Fastify: request.ip (and the request log) show the real client; request.toa has the details.
import Fastify from 'fastify';
import toa from 'node-toa';

const app = Fastify();
await app.register(toa.fastify);
app.get('/', async (request) => ({ ip: request.ip, peer: request.toa }));

await app.listen({ port: Number(process.env.PORT ?? 8080), host: process.env.HOST ?? '::' });
console.log(`listening ${JSON.stringify(app.server.address())}`);
