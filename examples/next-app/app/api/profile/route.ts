// The app's protected route the mount contract calls: the caller's verified claims.
import { tessera } from '../../../lib/tessera.ts';

/** `GET /api/profile`: the verified claims of the caller's access token. */
export async function GET(request: Request): Promise<Response> {
  if (!request.headers.get('authorization')) {
    return Response.json(
      { error: 'unauthorized' },
      { status: 401, headers: { 'www-authenticate': 'Bearer' } },
    );
  }
  const auth = await (await tessera()).session(request);
  if (auth instanceof Response) return auth;
  return Response.json({ claims: auth.claims }, { headers: auth.responseHeaders });
}
