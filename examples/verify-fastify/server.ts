// A resource service in Fastify that accepts Tessera access tokens via @tessera/verify.
import type { Server } from 'node:http';
import { createVerifier, type Verifier } from '@tessera/verify';
import { requireAuth } from '@tessera/verify/fastify';
import Fastify from 'fastify';

/** Builds the app: `GET /me` answers the verified claims. */
export function createApp(verifier: Verifier) {
  const app = Fastify();
  app.get('/me', { preHandler: requireAuth(verifier) }, async (request) => ({
    framework: 'fastify',
    claims: (request as typeof request & { auth?: unknown }).auth,
  }));
  return app;
}

/** Listens on `port` (0: any free one). */
export async function listen(verifier: Verifier, port = 0): Promise<Server> {
  const app = createApp(verifier);
  await app.listen({ port, host: '127.0.0.1' });
  return app.server;
}

if (import.meta.main) {
  const issuer = process.env.TESSERA_ISSUER ?? 'http://127.0.0.1:4000';
  const verifier = createVerifier({
    issuer,
    audience: process.env.TESSERA_AUDIENCE ?? issuer,
    serviceToken: process.env.TESSERA_SERVICE_TOKEN,
  });
  const server = await listen(verifier, Number(process.env.PORT ?? 5000));
  console.log(`Fastify resource service on port ${(server.address() as { port: number }).port}`);
}
