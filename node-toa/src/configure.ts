/**
 * Builds configurations: create() and the module object (the default
 * configuration plus create and ToaError).
 */
import { expressMiddleware } from './adapters/express.js';
import { fastifyPlugin } from './adapters/fastify.js';
import { koaMiddleware } from './adapters/koa.js';
import type { NodeToa, Toa, ToaOptions } from './api.js';
import { checkBackendName, selectBackend } from './backends/index.js';
import { ToaError } from './errors.js';
import { install as installOn } from './install.js';
import { Reader, pinDirFromEnv } from './reader.js';
import type { BackendName } from './types.js';

/** A configuration of node-toa with its own backend, pin directory and cache. */
export function create(options: ToaOptions = {}): Toa {
  if (typeof options !== 'object' || options === null) {
    throw new ToaError('TOA_EINVAL', `node-toa: create(options): options must be an object, got ${String(options)}`);
  }
  return createWith(options, checkBackendName(options.backend, 'node-toa: create({ backend })'), 'backend option');
}

/** The module object: the default configuration (TOA_BACKEND, TOA_PIN_DIR), create and ToaError; frozen. */
export function configure(): NodeToa {
  const base = createWith({}, checkBackendName(process.env.TOA_BACKEND, 'TOA_BACKEND'), 'TOA_BACKEND');
  const mod = Object.assign(base, { create, ToaError }) as NodeToa & { default: NodeToa };
  Object.defineProperty(mod, 'default', { value: mod, enumerable: true });
  return Object.freeze(mod);
}

function createWith(options: ToaOptions, requested: BackendName | undefined, source: string): Toa {
  if (options.pinDir !== undefined && (typeof options.pinDir !== 'string' || options.pinDir === '')) {
    throw new ToaError('TOA_EINVAL', `node-toa: create({ pinDir }): pinDir must be a non-empty string, got ${JSON.stringify(options.pinDir)}`);
  }
  if (options.strict !== undefined && typeof options.strict !== 'boolean') {
    throw new ToaError('TOA_EINVAL', `node-toa: create({ strict }): strict must be true or false, got ${JSON.stringify(options.strict)}`);
  }
  const { backend, info } = selectBackend(requested, source);
  const reader = new Reader({ backend, info, pinDir: options.pinDir ?? pinDirFromEnv(), strict: options.strict === true });
  return {
    peer: (x) => reader.peer(x),
    install(server) {
      installOn(reader, server);
      return server;
    },
    express: () => expressMiddleware(reader),
    fastify: fastifyPlugin(reader),
    koa: () => koaMiddleware(reader),
    record: (x) => reader.record(x),
    getpeername: (x) => reader.getpeername(x),
    backend: info,
    pinDir: reader.pinDir,
    reset: () => reader.reset(),
  };
}
