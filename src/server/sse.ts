/** Server-sent events as OpenAI streams them: `data: <json>\n\n` per chunk, ending with `data: [DONE]`. */
import type { ServerResponse } from 'node:http';

/** Opens an event stream on `res` (status 200, no buffering by proxies). */
export function openEventStream(res: ServerResponse): void {
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache',
    Connection: 'keep-alive',
    'X-Accel-Buffering': 'no',
  });
  res.flushHeaders?.();
}

/** Writes one event carrying `data` as JSON (nothing once the client is gone). */
export function sendEvent(res: ServerResponse, data: unknown): void {
  if (res.destroyed || res.writableEnded) return;
  res.write(`data: ${JSON.stringify(data)}\n\n`);
}

/** Ends the stream with the `[DONE]` sentinel. */
export function endEventStream(res: ServerResponse): void {
  if (res.destroyed || res.writableEnded) return;
  res.end('data: [DONE]\n\n');
}
