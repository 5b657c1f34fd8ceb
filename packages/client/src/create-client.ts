import { createTabLink, soloTabLink, type TabLink } from './cross-tab.ts';
import { type ClientEvents, createEmitter, type SessionEndReason } from './events.ts';
import { renewalDelayMs } from './scheduler.ts';
import { singleFlight } from './single-flight.ts';

/** Where a body-transport client keeps its refresh token (a keychain, a file, memory). */
export interface TokenStorage {
  get(): Promise<string | null>;
  set(token: string | null): Promise<void>;
}

/** Options of {@link createTesseraClient}. */
export interface TesseraClientOptions {
  /** Base URL of the Tessera routes' mount ('' for the same origin). */
  baseUrl: string;
  /** `cookie` (browsers: the refresh token stays in an HttpOnly cookie) or `body`. Default: cookie in a page, body elsewhere. */
  transport?: 'cookie' | 'body';
  /** Base path of the auth routes. Default `/auth`. */
  authPath?: string;
  /** Body transport: where the refresh token lives. Default: memory. */
  storage?: TokenStorage;
  /** Coordinate refreshes and logouts across tabs. Default: true in a page. */
  crossTab?: boolean;
  fetch?: typeof fetch;
  /** Monotonic milliseconds. Default `performance.now()`. */
  now?: () => number;
  random?: () => number;
}

/** The client's view of its session. */
export interface ClientState {
  signedIn: boolean;
  /** When the access token expires, on the `now()` clock; null when signed out. */
  expiresAt: number | null;
}

/** A Tessera client. */
export interface TesseraClient {
  login(email: string, password: string, extra?: Record<string, string>): Promise<void>;
  register(email: string, password: string, extra?: Record<string, string>): Promise<void>;
  /** Tries a silent refresh (e.g. at page load); true when a session was resumed. */
  resume(): Promise<boolean>;
  logout(): Promise<void>;
  logoutAll(): Promise<void>;
  /** Refreshes now (shared with any refresh under way); true when a new token arrived. */
  refresh(): Promise<boolean>;
  /** A valid access token (refreshing first if it is due), or null when signed out. */
  getAccessToken(): Promise<string | null>;
  /** `fetch` with the bearer token; on 401 `invalid_token` refreshes once and retries once. */
  fetch(input: string | URL, init?: RequestInit): Promise<Response>;
  on<K extends keyof ClientEvents>(event: K, listener: (payload: ClientEvents[K]) => void): () => void;
  state(): ClientState;
  close(): void;
}

/** The error a failed login or register carries: the server's code and sentence. */
export class TesseraClientError extends Error {
  readonly code: string;
  readonly status: number;
  constructor(code: string, message: string, status: number) {
    super(message);
    this.name = 'TesseraClientError';
    this.code = code;
    this.status = status;
  }
}

interface TokenBody {
  access_token: string;
  expires_in: number;
  refresh_token?: string;
}

const inPage = (): boolean => typeof document !== 'undefined';

/**
 * Creates a client that keeps an active user signed in: the access token in memory, renewed at 70–80 %
 * of its life, one refresh at a time for any number of callers (and tabs), and a `fetch` that retries
 * once after an expired-token 401.
 * @example
 * const tessera = createTesseraClient({ baseUrl: '' });
 * tessera.on('sessionEnded', ({ reason }) => showLogin(reason));
 * await tessera.resume();
 * const orders = await tessera.fetch('/api/orders');
 */
export function createTesseraClient(options: TesseraClientOptions): TesseraClient {
  const transport = options.transport ?? (inPage() ? 'cookie' : 'body');
  const base = `${options.baseUrl}${options.authPath ?? '/auth'}`;
  const http = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  const now = options.now ?? (() => performance.now());
  const random = options.random ?? Math.random;
  let memoryToken: string | null = null;
  const storage: TokenStorage = options.storage ?? {
    get: async () => memoryToken,
    set: async (token) => {
      memoryToken = token;
    },
  };
  const tabs: TabLink = (options.crossTab ?? inPage()) ? createTabLink('tessera') : soloTabLink();
  const events = createEmitter();
  let access: { token: string; expiresAt: number; receivedAt: number; fromTab: boolean } | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const tokenWaiters: Array<() => void> = [];

  const headers = (extra: Record<string, string> = {}): Record<string, string> => ({
    'content-type': 'application/json',
    'tessera-transport': transport,
    ...extra,
  });
  const post = (path: string, body: unknown, extra?: Record<string, string>) =>
    http(`${base}${path}`, {
      method: 'POST',
      headers: headers(extra),
      body: JSON.stringify(body ?? {}),
      ...(transport === 'cookie' ? { credentials: 'include' as const } : {}),
    });

  function schedule(expiresIn: number): void {
    clearTimeout(timer);
    timer = setTimeout(
      () => {
        refresh().catch(() => {
          // Offline: the next call, or the browser coming back online, tries again.
        });
      },
      renewalDelayMs(expiresIn, random()),
    );
    (timer as { unref?: () => void }).unref?.();
  }

  function adopt(token: string, expiresIn: number, remainingMs = expiresIn * 1000, fromTab = false): void {
    const at = now();
    access = { token, expiresAt: at + remainingMs, receivedAt: at, fromTab };
    schedule(remainingMs / 1000);
  }

  function end(reason: SessionEndReason, tellTabs: boolean): void {
    const wasSignedIn = access !== null;
    access = null;
    clearTimeout(timer);
    if (transport === 'body') storage.set(null).catch(() => undefined);
    if (tellTabs) tabs.post({ type: 'ended', reason });
    if (wasSignedIn || reason !== 'expired') events.emit('sessionEnded', { reason });
  }

  async function takeTokens(response: Response, first: boolean): Promise<void> {
    const body = (await response.json()) as TokenBody;
    if (body.refresh_token && transport === 'body') await storage.set(body.refresh_token);
    adopt(body.access_token, body.expires_in);
    tabs.markRefreshed();
    tabs.post({ type: 'token', accessToken: body.access_token, remainingMs: body.expires_in * 1000 });
    events.emit(first ? 'signedIn' : 'tokenRenewed', { expiresIn: body.expires_in });
  }

  /** One refresh for every caller and, through the lock, every tab. Resolves true with a new token. */
  const refresh = singleFlight(async (): Promise<boolean> => {
    const askedAt = now();
    const askedWallMs = Date.now();
    return tabs.withLock(async () => {
      // Another tab refreshed while we waited for the lock: its token reached us by broadcast, or is on
      // its way (the lock can be granted before the message is delivered).
      if (access && access.receivedAt > askedAt) return true;
      // A token another tab fetched within the last second is as fresh as one we would fetch now.
      if (access && access.fromTab && askedAt - access.receivedAt < 1000) return true;
      if (tabs.refreshedSince(askedWallMs)) {
        await new Promise<void>((resolve) => {
          tokenWaiters.push(resolve);
          setTimeout(resolve, 1000);
        });
        if (access && access.receivedAt > askedAt) return true;
      }
      let body: Record<string, string> = {};
      if (transport === 'body') {
        const refreshToken = await storage.get();
        if (!refreshToken) return false;
        body = { refresh_token: refreshToken };
      }
      const response = await post('/refresh', body);
      if (response.ok) {
        await takeTokens(response, access === null);
        return true;
      }
      const error = (await response.json().catch(() => ({}))) as { error?: string; session_ended?: string };
      if (error.error === 'invalid_grant') {
        const ended = error.session_ended;
        end(
          ended === 'reuse_detected' ? 'reuse_detected' : ended === 'expired' ? 'expired' : 'revoked',
          true,
        );
      } else if (response.status === 400 && access === null) {
        return false; // nothing to resume
      }
      return false;
    });
  });

  const due = (): boolean =>
    access !== null && now() >= access.receivedAt + (access.expiresAt - access.receivedAt) * 0.8;

  tabs.onMessage((message) => {
    if (message.type === 'token') {
      adopt(message.accessToken, message.remainingMs / 1000, message.remainingMs, true);
      events.emit('tokenRenewed', { expiresIn: message.remainingMs / 1000 });
      for (const resolve of tokenWaiters.splice(0)) resolve();
    } else {
      end(message.reason, false);
    }
  });

  if (inPage()) {
    // A tab woken from sleep, refocused or back online renews before its next call if it is due.
    const wake = () => {
      if (due() || (access && now() >= access.expiresAt)) refresh().catch(() => undefined);
    };
    document.addEventListener('visibilitychange', () => document.visibilityState === 'visible' && wake());
    globalThis.addEventListener?.('online', wake);
    globalThis.addEventListener?.('focus', wake);
  }

  async function start(
    path: string,
    email: string,
    password: string,
    extra: Record<string, string> = {},
  ): Promise<void> {
    const response = await post(path, { email, password, ...extra });
    if (!response.ok) {
      const error = (await response.json().catch(() => ({}))) as {
        error?: string;
        error_description?: string;
      };
      throw new TesseraClientError(
        error.error ?? 'server_error',
        error.error_description ?? 'Request failed.',
        response.status,
      );
    }
    await takeTokens(response, true);
  }

  async function getAccessToken(): Promise<string | null> {
    if (access && now() < access.expiresAt && !due()) return access.token;
    await refresh().catch(() => false);
    return access?.token ?? null;
  }

  return {
    login: (email, password, extra) => start('/login', email, password, extra),
    register: (email, password, extra) => start('/register', email, password, extra),
    async resume() {
      return (await refresh().catch(() => false)) && access !== null;
    },
    async logout() {
      const body = transport === 'body' ? { refresh_token: (await storage.get()) ?? undefined } : {};
      await post('/logout', body, access ? { authorization: `Bearer ${access.token}` } : {}).catch(
        () => undefined,
      );
      end('logout', true);
    },
    async logoutAll() {
      const token = await getAccessToken();
      if (token) await post('/logout-all', {}, { authorization: `Bearer ${token}` }).catch(() => undefined);
      end('logout', true);
    },
    refresh: () => refresh().catch(() => false),
    getAccessToken,
    async fetch(input, init = {}) {
      const send = (token: string | null) => {
        const merged = new Headers(init.headers);
        if (token) merged.set('authorization', `Bearer ${token}`);
        return http(input, { ...init, headers: merged });
      };
      const response = await send(await getAccessToken());
      if (
        response.status !== 401 ||
        !/error="invalid_token"/.test(response.headers.get('www-authenticate') ?? '')
      ) {
        return response;
      }
      // Once, never more: a second 401 goes back to the app as it is.
      const renewed = await refresh().catch(() => false);
      return renewed && access ? send(access.token) : response;
    },
    on: (event, listener) => events.on(event, listener),
    state: () => ({ signedIn: access !== null, expiresAt: access?.expiresAt ?? null }),
    close() {
      clearTimeout(timer);
      tabs.close();
    },
  };
}
