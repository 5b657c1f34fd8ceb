// The standalone configuration served by node:http through the plain web conversion (a `Request` built
// for every request, the handler's `Response` written back), for compare-hosts.ts only: it shows what
// the Node fast path (`toNodeListener`, no `Request` built) saves.
// Run: node --conditions=@tessera/source packages/standalone/scripts/web-host.ts (TESSERA_* settings).
import { createServer } from 'node:http';
import { Readable } from 'node:stream';
import { createTesseraServer, resolveConfig } from '@tessera/standalone';

const config = resolveConfig();
const server = await createTesseraServer(config);
const { handler } = server;
const web = createServer((req, res) => {
  const method = req.method ?? 'GET';
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (Array.isArray(value)) for (const item of value) headers.append(name, item);
    else if (value !== undefined) headers.set(name, value);
  }
  const hasBody = method !== 'GET' && method !== 'HEAD';
  const request = new Request(`http://${req.headers.host ?? 'localhost'}${req.url ?? '/'}`, {
    method,
    headers,
    ...(hasBody ? { body: Readable.toWeb(req) as ReadableStream<Uint8Array>, duplex: 'half' } : {}),
  } as RequestInit);
  handler(request, { ip: req.socket.remoteAddress ?? '' }).then(
    async (response) => {
      const out: string[] = [];
      response.headers.forEach((value, name) => {
        out.push(name, value);
      });
      res.writeHead(response.status, out);
      if (response.body !== null) {
        const reader = response.body.getReader();
        for (let next = await reader.read(); !next.done; next = await reader.read()) res.write(next.value);
      }
      res.end();
    },
    () => res.destroy(),
  );
});
web.listen(config.port, config.host, () => {
  process.stdout.write(`Tessera (web conversion) is running at http://${config.host}:${config.port}\n`);
});
process.once('SIGTERM', () => {
  web.close();
  server.close().catch(() => {});
});
