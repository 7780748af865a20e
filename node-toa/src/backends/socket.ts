/** The plain backend: no records, only the socket's own address. Loads everywhere. */
import { NO_SOURCE, type Backend } from './backend.js';

export function socketBackend(): Backend {
  return {
    name: 'socket',
    open: () => ({ reset() {}, lookup: () => NO_SOURCE }),
    getpeername() {
      throw Object.assign(new Error('getpeername: the socket backend has no system calls; use socket.remoteAddress'), {
        code: 'TOA_EBACKEND',
      });
    },
  };
}
