// The app's own JSON route, with its own parsing and its own error format.
export async function POST(request: Request): Promise<Response> {
  try {
    return Response.json({ echo: await request.json() });
  } catch {
    return Response.json({ message: 'Malformed JSON' }, { status: 400 });
  }
}
