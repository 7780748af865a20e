// Koa: ctx.ip is the real client; ctx.state.toa has the details.
import Koa from 'koa';
import toa from 'node-toa';

const app = new Koa();
app.use(toa.koa());
app.use((ctx) => {
  ctx.body = { ip: ctx.ip, peer: ctx.state.toa };
});

const server = app.listen(Number(process.env.PORT ?? 8080), process.env.HOST ?? '::', () => {
  console.log(`listening ${JSON.stringify(server.address())}`);
});
