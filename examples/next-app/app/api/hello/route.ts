// One of the app's own routes beside Tessera's.
export function GET(): Response {
  return Response.json({ hello: 'from next' });
}
