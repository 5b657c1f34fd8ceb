import type { VerifiedClaims, Verifier } from '../create-verifier.ts';
import { authorize } from '../http-errors.ts';

/** Options of `requireAuth`. */
export interface RequireAuthOptions {
  /** The realm in `WWW-Authenticate`. Default `api`. */
  realm?: string;
}

interface KoaLikeContext {
  get(name: string): string;
  set(headers: Record<string, string>): void;
  status: number;
  body: unknown;
  state: { auth?: VerifiedClaims };
}

/**
 * Koa middleware: verifies `Authorization: Bearer`, sets `ctx.state.auth`, or answers per RFC 6750.
 * @example
 * router.get('/me', requireAuth(verifier), (ctx) => { ctx.body = ctx.state.auth; });
 */
export function requireAuth(
  verifier: Verifier,
  options: RequireAuthOptions = {},
): (ctx: KoaLikeContext, next: () => Promise<unknown>) => Promise<void> {
  const realm = options.realm ?? 'api';
  return async (ctx, next) => {
    const header = ctx.get('authorization') || undefined;
    const result = await authorize(header, realm, (token) => verifier.verify(token));
    if ('failure' in result) {
      ctx.status = result.failure.status;
      ctx.set(result.failure.headers);
      ctx.body = result.failure.body;
      return;
    }
    ctx.state.auth = result.claims;
    await next();
  };
}
