/** One cookie a response set, with the attributes a test asserts on. */
export interface SetCookie {
  name: string;
  value: string;
  /** Attribute names lower-cased; flags (`httponly`) map to `true`. */
  attributes: Record<string, string | true>;
}

/** Parses one `Set-Cookie` header value. */
export function parseSetCookie(header: string): SetCookie {
  const [pair = '', ...parts] = header.split(';');
  const eq = pair.indexOf('=');
  const attributes: Record<string, string | true> = {};
  for (const part of parts) {
    const [key = '', ...rest] = part.trim().split('=');
    attributes[key.toLowerCase()] = rest.length ? rest.join('=') : true;
  }
  return { name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim(), attributes };
}

/**
 * A browser's cookie store, reduced to what the tests need: one host, cookies kept by name (and path),
 * sent when the request path is inside the cookie's path, dropped by `Max-Age=0`.
 */
export class CookieJar {
  readonly #cookies = new Map<string, { value: string; path: string }>();

  /** Stores the cookies of a response. Returns what it set, by name. */
  take(response: Response): Map<string, SetCookie> {
    const set = new Map<string, SetCookie>();
    for (const header of response.headers.getSetCookie()) {
      const cookie = parseSetCookie(header);
      set.set(cookie.name, cookie);
      const path = typeof cookie.attributes.path === 'string' ? cookie.attributes.path : '/';
      if (cookie.attributes['max-age'] === '0' || cookie.value === '') this.#cookies.delete(cookie.name);
      else this.#cookies.set(cookie.name, { value: cookie.value, path });
    }
    return set;
  }

  /** The `Cookie` header a browser would send to `path`. */
  header(path: string): string {
    return [...this.#cookies]
      .filter(([, c]) => path === c.path || path.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`))
      .map(([name, c]) => `${name}=${c.value}`)
      .join('; ');
  }

  /** Whether the jar holds a cookie of this name. */
  has(name: string): boolean {
    return this.#cookies.has(name);
  }

  /** Forgets a cookie (as a browser does when it expires). */
  delete(name: string): void {
    this.#cookies.delete(name);
  }

  /** The value of a cookie, if the jar holds it. */
  get(name: string): string | undefined {
    return this.#cookies.get(name)?.value;
  }
}
