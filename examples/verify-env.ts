// Shared by the resource-service examples: a verifier configured from the environment.
import { createVerifier, type Verifier } from '@tessera/verify';

/**
 * A verifier for TESSERA_ISSUER (default http://127.0.0.1:4000), TESSERA_AUDIENCE and
 * TESSERA_SERVICE_TOKEN; it discovers the JWKS, the revocation feed and introspection from the
 * issuer's RFC 8414 metadata.
 * @example
 * const verifier = verifierFromEnv();
 */
export function verifierFromEnv(): Verifier {
  const issuer = process.env.TESSERA_ISSUER ?? 'http://127.0.0.1:4000';
  return createVerifier({
    issuer,
    audience: process.env.TESSERA_AUDIENCE ?? issuer,
    serviceToken: process.env.TESSERA_SERVICE_TOKEN,
  });
}

/**
 * Starts an example resource service from the command line and prints where it listens.
 * @example
 * if (import.meta.main) await runFromCommandLine('Koa', listen);
 */
export async function runFromCommandLine(
  name: string,
  listen: (verifier: Verifier, port: number) => Promise<{ address(): unknown }>,
): Promise<void> {
  const verifier = verifierFromEnv();
  // Fail at start, naming the URL tried and the option to set, rather than on the first request.
  await verifier.ready();
  const server = await listen(verifier, Number(process.env.PORT ?? 5000));
  console.log(`${name} resource service on port ${(server.address() as { port: number }).port}`);
}
