// HTTPS without a framework: install() makes the TLS socket report the real client.
// TLS_KEY and TLS_CERT name PEM files.
import { readFileSync } from 'node:fs';
import https from 'node:https';
import toa from 'node-toa';

const tls = { key: readFileSync(process.env.TLS_KEY ?? 'key.pem'), cert: readFileSync(process.env.TLS_CERT ?? 'cert.pem') };
const server = toa.install(
  https.createServer(tls, (req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ ip: req.socket.remoteAddress, peer: toa.peer(req) }));
  }),
);

server.listen(Number(process.env.PORT ?? 8443), process.env.HOST ?? '::', () => {
  console.log(`listening ${JSON.stringify(server.address())}`);
});
