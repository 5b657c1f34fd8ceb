// One of the app's own routes beside Tessera's.
/** `GET /api/hello`: a greeting, no session needed. */
export function GET(): Response {
  return Response.json({ hello: 'from next' });
}
