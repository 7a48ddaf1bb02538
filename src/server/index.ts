/**
 * An OpenAI-compatible HTTP server for contrastive decoding, and the request handler to mount in other servers.
 * Requests in flight share batched decode steps (continuous batching, see batcher.ts).
 */
import { createServer as createHttpServer, type Server } from 'node:http';

import { createHandler, type Handler, type HandlerOptions } from './handler';

export { createHandler, type Handler, type HandlerOptions } from './handler';
export { ApiError, type ApiErrorType } from './errors';
export { BatchEngine, type BatchEngineOptions } from './batcher';
export type { DecodeRequest, DecodeSink, DecodeTicket, Engine, EndReason, PromptLogprob, Sampling, TokenEvent, TokenLogprob } from './engine';
export { Metrics } from './metrics';
export type { RequestDefaults } from './validate';

/** A node:http server with the handler mounted; `close` on it also stops the engines (graceful). */
export interface AutocontrastServer extends Server {
  /** The mounted handler (metrics, engines). */
  readonly handler: Handler;
  /**
   * Stops accepting connections, lets requests in flight finish within `deadlineMs` (then cancels them), and
   * resolves when the server is closed.
   */
  shutdown(deadlineMs?: number): Promise<void>;
}

/**
 * Creates a node:http server serving the OpenAI-compatible API for the given models; call `listen` on it.
 * `listen(port)` without a host binds 127.0.0.1 (this machine only), unlike plain node:http: name a host, e.g.
 * `listen(8080, '0.0.0.0')`, to expose it.
 */
export function createServer(options: HandlerOptions): AutocontrastServer {
  const handler = createHandler(options);
  const server = createHttpServer((req, res) => handler(req, res)) as AutocontrastServer;
  const listen = server.listen.bind(server) as (...a: unknown[]) => Server;
  server.listen = ((...a: unknown[]) => {
    if ((typeof a[0] === 'number' || typeof a[0] === 'string' && /^\d+$/.test(a[0])) && typeof a[1] !== 'string') a.splice(1, 0, '127.0.0.1');
    return listen(...a);
  }) as AutocontrastServer['listen'];
  Object.defineProperty(server, 'handler', { value: handler });
  Object.defineProperty(server, 'shutdown', {
    value: async (deadlineMs = 10_000) => {
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections?.();
      await handler.close(deadlineMs);
      server.closeIdleConnections?.();
      const t = setTimeout(() => server.closeAllConnections?.(), 1000);
      await closed;
      clearTimeout(t);
    },
  });
  return server;
}
