// Load generator of the serve benchmark, run in its own process so that its work does not share the server's
// event loop: `concurrency` clients each send streaming completions one after the other until `requests` were
// sent. Prints one JSON line: per request the time to first token, tokens, wall time; and the phase's wall time.
import http from 'node:http';

const cfg = JSON.parse(process.argv[2]);
const agent = new http.Agent({ keepAlive: true, maxSockets: cfg.concurrency });
const url = new URL('/v1/completions', cfg.url);

function one(prompt) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let first = null, tokens = 0, buf = '';
    const body = JSON.stringify({ model: cfg.model, prompt, max_tokens: cfg.maxTokens, min_tokens: cfg.maxTokens, temperature: 0, stream: true, stream_options: { include_usage: true }, ...cfg.fields });
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      if (res.statusCode !== 200) {
        let t = '';
        res.on('data', (c) => (t += c));
        res.on('end', () => reject(new Error(`status ${res.statusCode}: ${t}`)));
        return;
      }
      res.setEncoding('utf8');
      res.on('data', (c) => {
        buf += c;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const ev = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (!ev.startsWith('data: ') || ev === 'data: [DONE]') continue;
          const d = JSON.parse(ev.slice(6));
          if (d.usage) tokens = d.usage.completion_tokens;
          else if (first === null && d.choices?.[0]?.text) first = performance.now() - t0;
        }
      });
      res.on('end', () => resolve({ ttftMs: first, tokens, wallMs: performance.now() - t0 }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const results = [];
let next = 0;
const t0 = performance.now();
await Promise.all(Array.from({ length: cfg.concurrency }, async (_, c) => {
  while (next < cfg.requests) {
    const i = next++;
    results.push(await one(cfg.prompts[(i + c) % cfg.prompts.length]));
  }
}));
agent.destroy();
console.log(JSON.stringify({ wallMs: performance.now() - t0, results }));
