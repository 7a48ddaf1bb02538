// A local HTTP server with the Hugging Face Hub's URL layout, serving a folder:
//   GET /api/models/{org}/{name}            -> { siblings: [{ rfilename, size, lfs? }] }
//   GET /{org}/{name}/resolve/{rev}/{file}  -> the file (Range requests honoured, 206)
// `cutFirst` makes the first request for a file send half its bytes then drop the connection.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

export async function startHubServer(repo, folder, { cutFirst = new Set(), redirectLfs = false } = {}) {
  const log = [];
  const cut = new Set(cutFirst);
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    log.push({ path: url.pathname, range: req.headers.range ?? null, auth: req.headers.authorization ?? null });
    if (url.pathname === `/api/models/${repo}`) {
      const siblings = fs.readdirSync(folder).map((f) => {
        const bytes = fs.readFileSync(path.join(folder, f));
        const lfs = f.endsWith('.safetensors') ? { sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length } : undefined;
        return { rfilename: f, size: bytes.length, ...(lfs ? { lfs } : {}) };
      });
      siblings.push({ rfilename: 'README.md', size: 5 }, { rfilename: 'onnx/model.onnx', size: 9 });
      res.setHeader('content-type', 'application/json');
      return res.end(JSON.stringify({ id: repo, siblings }));
    }
    const m = new RegExp(`^/${repo}/resolve/([^/]+)/(.+)$`).exec(url.pathname);
    const cdn = /^\/cdn\/(.+)$/.exec(url.pathname);
    const name = m ? decodeURIComponent(m[2]) : cdn ? decodeURIComponent(cdn[1]) : null;
    if (!name || !fs.existsSync(path.join(folder, name))) {
      res.statusCode = 404;
      return res.end('not found');
    }
    if (m && redirectLfs && name.endsWith('.safetensors')) {
      res.statusCode = 302;
      res.setHeader('location', `/cdn/${name}`);
      return res.end();
    }
    const bytes = fs.readFileSync(path.join(folder, name));
    let start = 0;
    const r = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (r) {
      start = Number(r[1]);
      res.statusCode = 206;
      res.setHeader('content-range', `bytes ${start}-${bytes.length - 1}/${bytes.length}`);
    }
    res.setHeader('content-length', String(bytes.length - start));
    if (cut.has(name)) {
      cut.delete(name);
      res.write(bytes.subarray(start, start + Math.floor((bytes.length - start) / 2)));
      // Long enough for the client to have written the half to its .part file under a loaded machine.
      setTimeout(() => res.destroy(), 300);
      return;
    }
    res.end(bytes.subarray(start));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return { endpoint: `http://127.0.0.1:${port}`, log, close: () => new Promise((r) => server.close(r)) };
}
