// The app's own API, for signed-in callers only: requireSession's web core checks the bearer token
// (signature, expiry, and that its session is still live).
import { tessera } from '../../../lib/tessera.ts';

/** `GET /api/orders`: the caller's orders, for a live session's access token (else RFC 6750's 401). */
export async function GET(request: Request): Promise<Response> {
  const auth = await (await tessera()).session(request);
  if (auth instanceof Response) return auth;
  return Response.json(
    { orders: [{ id: 'o-1', item: 'tessera tiles', for: auth.user.email }], sub: auth.claims.sub },
    { headers: { 'cache-control': 'no-store', ...auth.responseHeaders } },
  );
}
