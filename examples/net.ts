// A plain TCP server: after install(), socket.remoteAddress is the real client.
import net from 'node:net';
import toa from 'node-toa';

const server = toa.install(
  net.createServer((socket) => {
    const p = toa.peer(socket);
    socket.end(`${JSON.stringify({ ip: socket.remoteAddress, port: socket.remotePort, via: p.via })}\n`);
  }),
);

server.listen(Number(process.env.PORT ?? 8080), process.env.HOST ?? '::', () => {
  console.log(`listening ${JSON.stringify(server.address())}`);
});
