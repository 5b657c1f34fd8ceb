import type { Authenticated, Profile } from '@tessera/core';
import { TesseraError } from '@tessera/core';
import { readBody, validateFields } from '../http/body.ts';
import { empty, json } from '../http/error-response.ts';
import { clientInfo, type Route, type RouteContext, tokenResponse } from '../http/route.ts';
import { assertOriginAllowed, chooseTransport } from '../http/transport.ts';

function authOf(ctx: RouteContext): Authenticated {
  if (!ctx.auth) throw new TesseraError('invalid_token', 'An access token is required.');
  return ctx.auth;
}

/** The JSON shape of a profile (GET /auth/me). */
function profileBody(profile: Profile): Record<string, unknown> {
  return {
    sub: profile.id,
    email: profile.email,
    email_verified: profile.emailVerified,
    roles: profile.roles,
    ...profile.profile,
    two_factor: profile.twoFactor,
    created_at: profile.createdAt.toISOString(),
  };
}

/** Device list, password change and profile: `/auth/sessions`, `/auth/password`, `/auth/me`. */
export function accountRoutes(base: string): Route[] {
  return [
    {
      method: 'GET',
      path: `${base}/sessions`,
      auth: 'bearer',
      async handle(ctx) {
        const auth = authOf(ctx);
        const sessions = await ctx.routes.engine.listSessions(auth.user.id, auth.session.id);
        return json(200, {
          sessions: sessions.map((s) => ({
            id: s.id,
            created_at: s.createdAt.toISOString(),
            last_seen_at: s.lastSeenAt.toISOString(),
            ip: s.ip,
            user_agent: s.userAgent,
            device_name: s.deviceName,
            current: s.current,
          })),
        });
      },
    },
    {
      method: 'DELETE',
      path: `${base}/sessions/:id`,
      auth: 'bearer',
      async handle(ctx) {
        const auth = authOf(ctx);
        const id = ctx.params.id ?? '';
        if (
          !/^[A-Za-z0-9_-]{1,64}$/.test(id) ||
          !(await ctx.routes.engine.revokeOwnSession(auth.user.id, id))
        ) {
          throw new TesseraError('session_not_found', 'You have no live session with this id.');
        }
        return empty(204);
      },
    },
    {
      method: 'POST',
      path: `${base}/password`,
      auth: 'bearer',
      recentAuth: true,
      async handle(ctx) {
        const auth = authOf(ctx);
        const transport = chooseTransport(ctx.request.headers);
        if (transport === 'cookie') assertOriginAllowed(ctx.request.headers, ctx.routes.cookie);
        const body = validateFields(readBody(ctx.request, 'json').value, {
          current_password: { maxLength: 16_384 },
          new_password: { maxLength: 16_384 },
        });
        const tokens = await ctx.routes.engine.changePassword(
          auth,
          body.current_password as string,
          body.new_password as string,
          clientInfo(ctx.request),
        );
        return tokenResponse(ctx, tokens, transport);
      },
    },
    {
      method: 'GET',
      path: `${base}/me`,
      auth: 'bearer',
      async handle(ctx) {
        return json(200, profileBody(await ctx.routes.engine.getProfile(authOf(ctx).user.id)));
      },
    },
    {
      method: 'PATCH',
      path: `${base}/me`,
      auth: 'bearer',
      async handle(ctx) {
        const auth = authOf(ctx);
        const patch = readBody(ctx.request, 'json').value;
        if (Object.keys(patch).length === 0) {
          throw new TesseraError('invalid_request', 'Send at least one field to change.');
        }
        const { profile, access } = await ctx.routes.engine.updateProfile(auth, patch);
        const body = profileBody(profile);
        if (access) {
          body.token_type = 'Bearer';
          body.access_token = access.accessToken;
          body.expires_in = access.expiresIn;
        }
        return json(200, body);
      },
    },
  ];
}
