// The app's own JSON route, with its own parsing and its own error format.
/** `POST /api/echo`: the JSON body back, or the app's own 400 for malformed JSON. */
export async function POST(request: Request): Promise<Response> {
  try {
    return Response.json({ echo: await request.json() });
  } catch {
    return Response.json({ message: 'Malformed JSON' }, { status: 400 });
  }
}
