// Express behind an LVS FullNAT load balancer: req.ip is the real client.
import express from 'express';
import toa from 'node-toa';

const app = express();
app.use(toa.express());
app.get('/', (req, res) => {
  res.json({ ip: req.ip, peer: toa.peer(req) });
});

const server = app.listen(Number(process.env.PORT ?? 8080), process.env.HOST ?? '::', () => {
  console.log(`listening ${JSON.stringify(server.address())} (toa backend: ${toa.backend.name})`);
});
