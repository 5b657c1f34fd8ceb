import type { DpopOptions } from './dpop.ts';
import type { ClientEvents } from './events.ts';
import type { SessionPolicy } from './policies.ts';

/** Where a body-transport client keeps its renewal secret (a keychain, a file, memory). */
export interface TokenStorage {
  get(): Promise<string | null>;
  set(token: string | null): Promise<void>;
}

/** Options of `createTesseraClient`. */
export interface TesseraClientOptions {
  /** Base URL of the Tessera routes' mount ('' for the same origin). */
  baseUrl: string;
  /** The server's session policy (`TESSERA_POLICY`). Default `rotating-refresh`. */
  policy?: SessionPolicy;
  /** `cookie` (browsers: the refresh token stays in an HttpOnly cookie) or `body`. Default: cookie in a page, body elsewhere. */
  transport?: 'cookie' | 'body';
  /** Base path of the auth routes. Default `/auth`. */
  authPath?: string;
  /**
   * Body transport: where the renewal secret lives (the refresh token; the session token under
   * `expired-token-exchange`). Default: memory.
   */
  storage?: TokenStorage;
  /** Coordinate renewals and logouts across tabs. Default: true in a page. */
  crossTab?: boolean;
  /**
   * DPoP (RFC 9449): sign a proof of possession for each token request and each `fetch`, so the
   * session's tokens are bound to a key that script cannot read and are useless if copied. The key is
   * non-extractable, kept in IndexedDB (shared by reloads and tabs), in memory in Node. The server
   * binds the session when it takes DPoP (`TESSERA_DPOP` `optional` or `required`). Default false.
   */
  dpop?: boolean | DpopOptions;
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
  /**
   * Tries a silent refresh (e.g. at page load); true when a session was resumed. Only
   * `rotating-refresh` keeps a session across reloads; under the other policies it answers whether
   * this client holds a token.
   */
  resume(): Promise<boolean>;
  logout(): Promise<void>;
  logoutAll(): Promise<void>;
  /** Renews now as the policy says (shared with any renewal under way); true when a new token arrived. */
  refresh(): Promise<boolean>;
  /** A valid access token (renewing first if it is due), or null when signed out. */
  getAccessToken(): Promise<string | null>;
  /**
   * `fetch` with the bearer token. A 401 the policy can cure (an expired token under
   * `rotating-refresh`, `token_soft_expired` under `soft-expiry`, an expired token under
   * `expired-token-exchange`) renews once and retries once; under `sliding-single-token` a
   * renewed token in the response's `Tessera-Access-Token` header is taken. A 401 whose challenge says
   * `insufficient_user_authentication` (RFC 9470) is returned as it is and emits `stepUpRequired`.
   */
  fetch(input: string | URL, init?: RequestInit): Promise<Response>;
  /**
   * Step-up (RFC 9470): proves the user's identity again within this session (`POST /auth/reauthenticate`
   * with `{ password }`, `{ totp }` or `{ recovery_code }`; with two-factor login on, a code is required)
   * and takes the fresh access token it returns (emitting `tokenRenewed`, and sharing it with other
   * tabs). Rejects with a {@link TesseraClientError} (`invalid_credentials`, `totp_required`,
   * `invalid_totp`, …) and keeps the current token then.
   */
  reauthenticate(credentials: Record<string, string>): Promise<void>;
  on<K extends keyof ClientEvents>(event: K, listener: (payload: ClientEvents[K]) => void): () => void;
  state(): ClientState;
  /** Stops every timer, removes every page listener, closes the tab channel and forgets listeners. */
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
