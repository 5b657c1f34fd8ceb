import {
  RENEWED_TOKEN_EXPIRES_HEADER,
  RENEWED_TOKEN_HEADER,
  readStepUpChallenge,
  TOKEN_SOFT_EXPIRED,
  TRANSPORT_HEADER,
} from '@tessera/protocol';
import type { TesseraClient, TesseraClientOptions, TokenStorage } from './client-api.ts';
import { TesseraClientError } from './client-api.ts';
import { createTabLink, soloTabLink, type TabLink } from './cross-tab.ts';
import { createDpop } from './dpop.ts';
import { createEmitter, type SessionEndReason } from './events.ts';
import { watchPage } from './page-events.ts';
import { dueAfterMs, RENEWAL_RULES } from './policies.ts';
import { renewalDelayMs } from './scheduler.ts';
import { singleFlight } from './single-flight.ts';

interface TokenBody {
  access_token: string;
  /** `DPoP` when the session is bound to this client's key (RFC 9449 §5). */
  token_type?: string;
  expires_in: number;
  soft_expires_in?: number;
  refresh_token?: string;
  session_token?: string;
}

interface Held {
  token: string;
  receivedAt: number;
  expiresAt: number;
  /** When a renewal is due; null when the client never renews (the token simply expires). */
  dueAt: number | null;
  fromTab: boolean;
  /** Bound to the DPoP key: sent as `Authorization: DPoP` with a proof. */
  bound: boolean;
}

// setTimeout's longest delay; a longer wait (a long-lived token) is re-armed when it fires.
const MAX_DELAY_MS = 2 ** 31 - 1;

const inPage = (): boolean => typeof document !== 'undefined';

const endReason = (ended: string | undefined): SessionEndReason =>
  ended === 'reuse_detected' ? 'reuse_detected' : ended === 'expired' ? 'expired' : 'revoked';

/**
 * Creates a client that keeps an active user signed in under any of Tessera's policies: the access
 * token in memory, renewed before it stops working (refresh at 70–80 % of its life, renewal at the
 * soft expiry, exchange at expiry, or the server's header under `sliding-single-token`), one renewal
 * at a time for any number of callers (and tabs), and a `fetch` that retries once after a 401 the
 * policy can cure.
 * @example
 * const tessera = createTesseraClient({ baseUrl: '' });
 * tessera.on('sessionEnded', ({ reason }) => showLogin(reason));
 * await tessera.resume();
 * const orders = await tessera.fetch('/api/orders');
 */
export function createTesseraClient(options: TesseraClientOptions): TesseraClient {
  const policy = options.policy ?? 'rotating-refresh';
  const rule = RENEWAL_RULES[policy];
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
  const dpop = options.dpop ? createDpop(options.dpop === true ? {} : options.dpop) : null;
  const tabs: TabLink = (options.crossTab ?? inPage()) ? createTabLink('tessera') : soloTabLink();
  const events = createEmitter();
  // Renewals waiting for another tab's broadcast, and their one-second fallback timers.
  const waiters: Array<() => void> = [];
  const waits = new Set<ReturnType<typeof setTimeout>>();
  let access: Held | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;

  /**
   * `http` with the access token: `Authorization: DPoP` and a proof when the token is bound, `Bearer`
   * otherwise; with DPoP on, every request to the auth routes carries a proof (it binds a new session).
   */
  const send = (input: string | URL, init: RequestInit, token: string | null, proven: boolean) => {
    const bound = token !== null && access?.token === token && access.bound;
    if (dpop && (bound || proven)) return dpop.send(http, input, init, bound ? token : null);
    const headers = new Headers(init.headers);
    if (token) headers.set('authorization', `Bearer ${token}`);
    return http(input, { ...init, headers });
  };
  const post = (path: string, body: unknown, token: string | null = null) =>
    send(
      `${base}${path}`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', [TRANSPORT_HEADER]: transport },
        body: JSON.stringify(body),
        ...(transport === 'cookie' ? { credentials: 'include' as const } : {}),
      },
      token,
      true,
    );
  const held = (): string | null => access?.token ?? null;

  /** Runs the timer's work at `at` (on the `now()` clock), re-arming past setTimeout's longest delay. */
  function arm(at: number, delayMs: number): void {
    clearTimeout(timer);
    if (closed) return;
    timer = setTimeout(
      () => {
        if (now() < at) arm(at, at - now());
        else if (rule) {
          renew().catch(() => {
            // Offline: the next call, or the browser coming back online, tries again.
          });
        } else {
          end('expired', true); // nothing renews this token: the session is over for this client
        }
      },
      Math.min(MAX_DELAY_MS, Math.max(0, delayMs)),
    );
    (timer as { unref?: () => void }).unref?.();
  }

  function adopt(body: TokenBody, fromTab = false): void {
    const at = now();
    const dueIn = dueAfterMs(policy, body.expires_in, body.soft_expires_in);
    access = {
      token: body.access_token,
      receivedAt: at,
      expiresAt: at + body.expires_in * 1000,
      dueAt: dueIn === null ? null : at + dueIn,
      fromTab,
      bound: body.token_type === 'DPoP',
    };
    // Rotating refreshes spread over 70–80 % of the life, so clients that signed in together do not
    // refresh together; the other renewals cannot happen earlier than their due time.
    const delay =
      policy === 'rotating-refresh'
        ? renewalDelayMs(body.expires_in, random())
        : (dueIn ?? body.expires_in * 1000);
    arm(at + delay, delay);
  }

  function end(reason: SessionEndReason, tellTabs: boolean): void {
    const wasSignedIn = access !== null;
    access = null;
    clearTimeout(timer);
    if (transport === 'body') storage.set(null).catch(() => undefined);
    if (tellTabs) tabs.post({ type: 'ended', reason });
    if (wasSignedIn || reason !== 'expired') events.emit('sessionEnded', { reason });
  }

  function share(body: TokenBody, first: boolean): void {
    adopt(body);
    tabs.markRefreshed();
    tabs.post({
      type: 'token',
      accessToken: body.access_token,
      remainingMs: body.expires_in * 1000,
      bound: body.token_type === 'DPoP',
      ...(body.soft_expires_in === undefined ? {} : { softRemainingMs: body.soft_expires_in * 1000 }),
    });
    events.emit(first ? 'signedIn' : 'tokenRenewed', { expiresIn: body.expires_in });
  }

  async function takeTokens(response: Response, first: boolean): Promise<void> {
    const body = (await response.json()) as TokenBody;
    const secret = body.refresh_token ?? body.session_token;
    if (secret && transport === 'body') await storage.set(secret);
    share(body, first);
  }

  /** `sliding-single-token`: the server renewed the token on this response. */
  function takeRenewedHeader(response: Response): void {
    if (policy !== 'sliding-single-token' || !access) return;
    const token = response.headers.get(RENEWED_TOKEN_HEADER);
    const expiresIn = Number(response.headers.get(RENEWED_TOKEN_EXPIRES_HEADER));
    if (token && token !== access.token && expiresIn > 0)
      share(
        { access_token: token, expires_in: expiresIn, token_type: access.bound ? 'DPoP' : 'Bearer' },
        false,
      );
  }

  /** One renewal for every caller and, through the lock, every tab. Resolves true with a new token. */
  const renew = singleFlight(async (): Promise<boolean> => {
    if (!rule) return false;
    const askedAt = now();
    const askedWallMs = Date.now();
    return tabs.withLock(async () => {
      // Another tab renewed while we waited for the lock: its token reached us by broadcast, or is on
      // its way (the lock can be granted before the message is delivered).
      if (access && access.receivedAt > askedAt) return true;
      // A token another tab fetched within the last second is as fresh as one we would fetch now.
      if (access?.fromTab && askedAt - access.receivedAt < 1000) return true;
      if (tabs.refreshedSince(askedWallMs)) {
        await new Promise<void>((resolve) => {
          const wait = setTimeout(resolve, 1000);
          waits.add(wait);
          waiters.push(resolve);
        });
        if (access && access.receivedAt > askedAt) return true;
      }
      // Soft expiry and the exchange renew the token itself: nothing to renew without one.
      if (rule.bearer && !access) return false;
      let body: Record<string, string> = {};
      if (transport === 'body' && rule.secret) {
        const secret = await storage.get();
        if (!secret) return false;
        body = { [rule.secret]: secret };
      }
      const response = await post(rule.path, body, rule.bearer ? held() : null);
      if (response.ok) {
        await takeTokens(response, access === null);
        return true;
      }
      const error = (await response.json().catch(() => ({}))) as { error?: string; session_ended?: string };
      if (error.error === 'invalid_grant') end(endReason(error.session_ended), true);
      // The token itself was refused (hard-expired, revoked), or the exchange lacks its session cookie.
      else if (
        rule.bearer &&
        (response.status === 401 || (policy === 'expired-token-exchange' && response.status === 400))
      )
        end(access && now() >= access.expiresAt ? 'expired' : 'revoked', true);
      return false;
    });
  });
  const usable = (held: Held): boolean => now() < (held.dueAt ?? held.expiresAt);

  tabs.onMessage((message) => {
    if (message.type === 'token') {
      adopt(
        {
          access_token: message.accessToken,
          expires_in: message.remainingMs / 1000,
          token_type: message.bound ? 'DPoP' : 'Bearer',
          ...(message.softRemainingMs === undefined
            ? {}
            : { soft_expires_in: message.softRemainingMs / 1000 }),
        },
        true,
      );
      events.emit('tokenRenewed', { expiresIn: message.remainingMs / 1000 });
      for (const resolve of waiters.splice(0)) resolve();
    } else {
      end(message.reason, false);
    }
  });

  async function getAccessToken(): Promise<string | null> {
    if (access && usable(access)) return access.token;
    if (access && !rule) {
      end('expired', true);
      return null;
    }
    // Without a token, only a refresh token (rotating-refresh) can start one.
    if (!access && policy !== 'rotating-refresh') return null;
    await renew().catch(() => false);
    return access?.token ?? null;
  }

  // A tab woken from sleep, refocused or back online renews before its next call if it is due.
  const unwatchPage = watchPage(() => {
    if (access && !usable(access)) getAccessToken().catch(() => undefined);
  });

  /** The error a refused sign-in or re-authentication rejects with: the server's code and sentence. */
  async function failure(response: Response): Promise<TesseraClientError> {
    const error = (await response.json().catch(() => ({}))) as { error?: string; error_description?: string };
    return new TesseraClientError(
      error.error ?? 'server_error',
      error.error_description ?? 'Request failed.',
      response.status,
    );
  }

  async function start(
    path: string,
    email: string,
    password: string,
    extra: Record<string, string> = {},
  ): Promise<void> {
    const response = await post(path, { email, password, ...extra });
    if (!response.ok) throw await failure(response);
    await takeTokens(response, true);
  }

  /** Whether a 401 is one the policy cures with one renewal. */
  function curable(response: Response): boolean {
    const challenge = response.headers.get('www-authenticate') ?? '';
    if (!rule || !/error="invalid_token"/.test(challenge)) return false;
    if (policy === 'soft-expiry') return challenge.includes(`"${TOKEN_SOFT_EXPIRED}"`);
    if (policy === 'expired-token-exchange') return access !== null && now() >= access.expiresAt;
    return true;
  }

  return {
    login: (email, password, extra) => start('/login', email, password, extra),
    register: (email, password, extra) => start('/register', email, password, extra),
    async resume() {
      if (policy !== 'rotating-refresh') return access !== null;
      return (await renew().catch(() => false)) && access !== null;
    },
    async logout() {
      // A soft-expired token no longer authenticates, not even its own logout: renew it first.
      if (policy === 'soft-expiry' && access && !usable(access)) await renew().catch(() => false);
      const secret = transport === 'body' && rule?.secret ? await storage.get() : null;
      const body = secret && rule?.secret ? { [rule.secret]: secret } : {};
      await post('/logout', body, held()).catch(() => undefined);
      end('logout', true);
    },
    async logoutAll() {
      const token = await getAccessToken();
      if (token) await post('/logout-all', {}, token).catch(() => undefined);
      end('logout', true);
    },
    refresh: () => renew().catch(() => false),
    getAccessToken,
    async fetch(input, init = {}) {
      const call = async (token: string | null) => {
        const response = await send(input, init, token, false);
        takeRenewedHeader(response);
        return response;
      };
      let response = await call(await getAccessToken());
      // Once, never more: a second 401 goes back to the app as it is.
      if (response.status === 401 && curable(response) && (await renew().catch(() => false)) && access)
        response = await call(access.token);
      const stepUp = response.status === 401 && readStepUpChallenge(response.headers.get('www-authenticate'));
      if (stepUp) events.emit('stepUpRequired', stepUp);
      return response;
    },
    async reauthenticate(credentials) {
      const token = await getAccessToken();
      const response = await post('/reauthenticate', credentials, token);
      if (!response.ok) throw await failure(response);
      await takeTokens(response, false);
    },
    on: (event, listener) => events.on(event, listener),
    state: () => ({ signedIn: access !== null, expiresAt: access?.expiresAt ?? null }),
    close() {
      closed = true;
      clearTimeout(timer);
      for (const wait of waits) clearTimeout(wait);
      waits.clear();
      for (const resolve of waiters.splice(0)) resolve();
      unwatchPage();
      tabs.close();
      events.clear();
    },
  };
}
