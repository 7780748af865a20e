// The same API through require() (CommonJS types).
import toa = require('node-toa');
import net = require('node:net');

declare const socket: net.Socket;
const p: toa.Peer = toa.peer(socket);
const addr: string = p.address;
const t: toa.Toa = toa.create();
void addr;
void t;
