// The client half of the Express example: a Node program (body transport, the way a CLI or a mobile
// app uses Tessera) that signs in, calls the API for a while across several access-token lifetimes
// without ever seeing a 401, and logs out. In a browser the same client uses cookie transport.
import { createTesseraClient, type TesseraClient } from '@tessera/client';

/**
 * Signs in (registering first if needed) and returns the client.
 * @example
 * const client = await signIn('http://127.0.0.1:3000', 'ada@example.com', 'correct horse battery staple');
 */
export async function signIn(baseUrl: string, email: string, password: string): Promise<TesseraClient> {
  const client = createTesseraClient({ baseUrl: `${baseUrl}/api`, transport: 'body' });
  try {
    await client.register(email, password);
  } catch {
    await client.login(email, password);
  }
  return client;
}

/**
 * Calls `GET /api/orders` every `everyMs` for `forMs`; returns the statuses seen.
 * @example
 * const statuses = await useApi(client, 'http://127.0.0.1:3000', 5000, 200);
 */
export async function useApi(
  client: TesseraClient,
  baseUrl: string,
  forMs: number,
  everyMs: number,
): Promise<number[]> {
  const statuses: number[] = [];
  const until = Date.now() + forMs;
  while (Date.now() < until) {
    statuses.push((await client.fetch(`${baseUrl}/api/orders`)).status);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  return statuses;
}

if (import.meta.main) {
  const baseUrl = process.argv[2] ?? 'http://127.0.0.1:3000';
  const client = await signIn(baseUrl, 'demo@example.com', 'correct horse battery staple');
  client.on('tokenRenewed', () => console.log('token renewed silently'));
  console.log('statuses:', (await useApi(client, baseUrl, 5000, 500)).join(' '));
  await client.logout();
  client.close();
}
