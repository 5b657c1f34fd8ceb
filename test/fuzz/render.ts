import type { BodySpec, FuzzRequest, Garble, JsonSpec, Known, RouteShape, Secret, Text } from './model.ts';

/** The real values behind the names a request model uses. */
export interface Values {
  secrets: Record<Secret, string>;
  known: Record<Exclude<Known, 'fresh-email'>, string>;
}

let fresh = 0;

function spoil(value: string, garble: Garble): string {
  if ('pad' in garble) return value + garble.pad;
  if (value.length === 0) return value;
  if ('cut' in garble) return value.slice(0, garble.cut % value.length);
  const at = garble.flip % value.length;
  const swapped = value[at] === 'A' ? 'B' : 'A';
  return value.slice(0, at) + swapped + value.slice(at + 1);
}

/** The string a {@link Text} stands for. */
export function renderText(text: Text, values: Values): string {
  if ('plain' in text) return text.plain;
  if ('known' in text) {
    // An address no account has yet, so a register or sign-in can get past the email checks.
    if (text.known === 'fresh-email') return `fuzz-${++fresh}@example.com`;
    return values.known[text.known];
  }
  if ('parts' in text) return text.parts.map((part) => renderText(part, values)).join('');
  const real = values.secrets[text.secret];
  return text.garble ? spoil(real, text.garble) : real;
}

function renderJson(spec: JsonSpec, values: Values): unknown {
  if ('text' in spec) return renderText(spec.text, values);
  if ('value' in spec) return spec.value;
  if ('huge' in spec) return 'x'.repeat(spec.huge);
  if ('array' in spec) return spec.array.map((item) => renderJson(item, values));
  const object: Record<string, unknown> = {};
  for (const [name, value] of spec.object) {
    // defineProperty, so a field named __proto__ is sent as a field.
    Object.defineProperty(object, name, {
      value: renderJson(value, values),
      enumerable: true,
      configurable: true,
      writable: true,
    });
  }
  return object;
}

function renderBody(body: BodySpec, values: Values): { bytes: Buffer; type: string | null } {
  switch (body.kind) {
    case 'none':
      return { bytes: Buffer.alloc(0), type: null };
    case 'json':
      return {
        bytes: Buffer.from(JSON.stringify(renderJson(body.value, values)) ?? 'null'),
        type: 'application/json',
      };
    case 'form': {
      const form = new URLSearchParams();
      for (const [name, value] of body.pairs) form.append(name, renderText(value, values));
      return { bytes: Buffer.from(form.toString()), type: 'application/x-www-form-urlencoded' };
    }
    case 'raw':
      return { bytes: Buffer.from(body.bytes), type: null };
    case 'malformed-json':
      return { bytes: Buffer.from(body.text), type: 'application/json' };
  }
}

const UNRESERVED = /[A-Za-z0-9\-._~]/;

// Percent-encodes every byte of the UTF-8 form but the unreserved ones, so any text fits in a path segment.
function encodeSegment(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value)) {
    const char = String.fromCharCode(byte);
    out += UNRESERVED.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The request target a model's path stands for. */
export function renderPath(request: FuzzRequest, routes: readonly RouteShape[], values: Values): string {
  const { path } = request;
  if ('raw' in path) return path.raw;
  let index = 0;
  const pattern = routes[path.route]?.path ?? '/';
  const filled = pattern
    .split('/')
    .map((segment) => {
      if (!segment.startsWith(':')) return segment;
      const param = path.params[index % path.params.length];
      index += 1;
      return param ? encodeSegment(renderText(param, values)) : 'x';
    })
    .join('/');
  return filled + path.trailing;
}

/** The bytes of a request: request line, headers (CR/LF and all, as the model says), body. */
export function renderRequest(
  request: FuzzRequest,
  routes: readonly RouteShape[],
  values: Values,
  host: string,
): Buffer {
  const { bytes, type } = renderBody(request.body, values);
  const headers: [string, string][] = request.headers.map(([name, value]) => [
    name,
    renderText(value, values),
  ]);
  const has = (name: string) => headers.some(([n]) => n.toLowerCase() === name);
  if (!has('host')) headers.unshift(['Host', host]);
  if (type !== null && !has('content-type')) headers.push(['Content-Type', type]);
  let payload = bytes;
  if (request.chunked) {
    headers.push(['Transfer-Encoding', 'chunked']);
    payload = Buffer.concat([
      Buffer.from(bytes.length > 0 ? `${bytes.length.toString(16)}\r\n` : ''),
      bytes,
      Buffer.from(bytes.length > 0 ? '\r\n0\r\n\r\n' : '0\r\n\r\n'),
    ]);
  }
  if (request.contentLength === true && (bytes.length > 0 || !request.chunked)) {
    headers.push(['Content-Length', String(bytes.length)]);
  } else if (typeof request.contentLength === 'number') {
    headers.push(['Content-Length', String(request.contentLength)]);
  }
  headers.push(['Connection', 'close']);
  const head = `${request.method} ${renderPath(request, routes, values)} ${request.version}\r\n${headers
    .map(([name, value]) => `${name}: ${value}`)
    .join('\r\n')}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head), payload]);
}
