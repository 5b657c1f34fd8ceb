/** A request that did not produce a usable answer; `message` says what was tried and what came back. */
export class FetchFailure extends Error {
  /** The HTTP status when the server answered, else `null` (no connection, timeout, bad body). */
  readonly status: number | null;
  constructor(message: string, status: number | null, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FetchFailure';
    this.status = status;
  }
}

/**
 * `url` as it may appear in a message: without user info, and with its query replaced by `?…`
 * (either could carry a credential).
 */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}${parsed.search ? '?…' : ''}`;
  } catch {
    return '(an invalid URL)';
  }
}

/** A JSON answer and the response it came with (its body already read). */
export interface JsonAnswer {
  response: Response;
  body: unknown;
}

/** Options of {@link fetchJson}. */
export interface FetchJsonOptions {
  fetch: typeof fetch;
  headers?: Readonly<Record<string, string>>;
  method?: 'GET' | 'POST';
  body?: string;
  /** The whole exchange (connection, headers and body) must end within this, ms. */
  timeoutMs: number;
  /** Aborts the request early (the verifier is closing). */
  signal?: AbortSignal;
}

function reasonOf(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  if (typeof cause?.code === 'string') return cause.code;
  if (typeof cause?.message === 'string' && cause.message) return cause.message;
  return error instanceof Error ? error.message : String(error);
}

/**
 * Fetches `url` and parses its JSON body, all within `timeoutMs` (a server that accepts the
 * connection and never answers, or trickles its body, is cut off). A non-2xx answer, a failed
 * connection, a timeout or a body that is not JSON throws a {@link FetchFailure} whose message names
 * the URL and what happened (never a header value, so never the service token).
 */
export async function fetchJson(url: string, options: FetchJsonOptions): Promise<JsonAnswer> {
  const method = options.method ?? 'GET';
  const shown = displayUrl(url);
  if (options.signal?.aborted)
    throw new FetchFailure(`${method} ${shown} was not sent: the verifier is closed`, null);
  const controller = new AbortController();
  const onAbort = () => controller.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  let timedOut = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  // Races the work against the deadline, so even a fetch that ignores its signal cannot hold us.
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
      reject(new FetchFailure(`${method} ${shown} timed out after ${options.timeoutMs} ms`, null));
    }, options.timeoutMs);
  });
  deadline.catch(() => undefined);
  const work = async (): Promise<JsonAnswer> => {
    let response: Response;
    try {
      response = await options.fetch(url, {
        method,
        headers: { accept: 'application/json', ...options.headers },
        ...(options.body === undefined ? {} : { body: options.body }),
        signal: controller.signal,
      });
    } catch (cause) {
      throw new FetchFailure(`${method} ${shown} failed (${reasonOf(cause)})`, null, { cause });
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      throw new FetchFailure(`${method} ${shown} answered ${response.status}`, response.status);
    }
    let text: string;
    try {
      text = await response.text();
    } catch (cause) {
      throw new FetchFailure(`${method} ${shown} broke off its answer (${reasonOf(cause)})`, null, { cause });
    }
    try {
      return { response, body: JSON.parse(text) as unknown };
    } catch (cause) {
      throw new FetchFailure(
        `${method} ${shown} answered ${response.status} with a body that is not JSON`,
        null,
        {
          cause,
        },
      );
    }
  };
  const answer = work();
  answer.catch(() => undefined); // the loser of the race below must not become an unhandled rejection
  try {
    return await Promise.race([answer, deadline]);
  } catch (error) {
    if (timedOut) throw new FetchFailure(`${method} ${shown} timed out after ${options.timeoutMs} ms`, null);
    throw error;
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
  }
}
