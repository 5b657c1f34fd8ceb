import type { Identity, Profile, SessionInfo, UserUpdate } from '@tessera/core';
import { TesseraError } from '@tessera/core';
import { DPOP_HEADER } from '@tessera/protocol';
import { readBody, validateJsonFields } from '../http/body.ts';
import { tokenRequestDpopJkt } from '../http/dpop.ts';
import { empty, json } from '../http/error-response.ts';
import { type Route, type RouteContext, tokenResponse } from '../http/route.ts';
import { chooseTransport } from '../http/transport.ts';
import type { HttpResponse } from '../http/types.ts';

const ID = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_PAGE = 200;

/** The admin JSON shape of a user. */
function userBody(profile: Profile): Record<string, unknown> {
  return {
    id: profile.id,
    email: profile.email,
    email_verified: profile.emailVerified,
    roles: profile.roles,
    profile: profile.profile,
    token_version: profile.tokenVersion,
    two_factor: profile.twoFactor,
    disabled: profile.disabled,
    created_at: profile.createdAt.toISOString(),
  };
}

/** The admin JSON shape of a session (more than the user's device list: auth time, methods, expiry). */
function sessionBody(session: SessionInfo): Record<string, unknown> {
  return {
    id: session.id,
    created_at: session.createdAt.toISOString(),
    last_seen_at: session.lastSeenAt.toISOString(),
    auth_time: session.authTime.toISOString(),
    expires_at: session.expiresAt.toISOString(),
    amr: session.amr,
    acr: session.acr,
    ip: session.ip,
    user_agent: session.userAgent,
    device_name: session.deviceName,
  };
}

function identityBody(identity: Identity): Record<string, unknown> {
  return { issuer: identity.issuer, subject: identity.subject, linked_at: identity.linkedAt.toISOString() };
}

/** The `:id` of a user route; a malformed one names no user. */
function userId(ctx: RouteContext): string {
  const id = ctx.params.id ?? '';
  if (!ID.test(id)) throw new TesseraError('not_found', 'No such user.');
  return id;
}

/** The query parameters of a GET, refusing unknown ones as unknown body fields are refused. */
function queryOf(ctx: RouteContext, allowed: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of ctx.request.query) {
    if (!allowed.includes(name)) {
      throw new TesseraError('invalid_request', `Unknown parameter "${name.slice(0, 64)}".`, {
        field: name.slice(0, 64),
      });
    }
    if (Object.hasOwn(out, name) || value.length > 1024) {
      throw new TesseraError('invalid_request', `The parameter "${name}" is repeated or too long.`, {
        field: name,
      });
    }
    out[name] = value;
  }
  return out;
}

/**
 * An admin route: a service route (service token, or loopback when none is set, under an allowed
 * `Host`) that also refuses any request carrying an `Origin`. The admin API serves backends and
 * operators' tools; a page in a browser, whatever site it is from, never calls it.
 */
function admin(
  method: Route['method'],
  path: string,
  handle: (ctx: RouteContext) => Promise<HttpResponse>,
): Route {
  return {
    method,
    path,
    auth: 'service',
    async handle(ctx) {
      if (ctx.request.headers.get('origin') !== null) {
        throw new TesseraError(
          'forbidden_origin',
          'The admin API is for backends; browsers may not call it.',
        );
      }
      return handle(ctx);
    },
  };
}

function jsonBody(ctx: RouteContext): Record<string, unknown> {
  return readBody(ctx.request, 'json').value;
}

async function listUsers(ctx: RouteContext): Promise<HttpResponse> {
  const query = queryOf(ctx, ['email', 'cursor', 'limit']);
  const engine = ctx.routes.engine;
  if (query.email !== undefined) {
    const user = await engine.findUserByEmail(query.email);
    return json(200, { users: user ? [userBody(user)] : [], next_cursor: null });
  }
  let limit: number | undefined;
  if (query.limit !== undefined) {
    limit = /^\d{1,3}$/.test(query.limit) ? Number(query.limit) : 0;
    if (limit < 1 || limit > MAX_PAGE) {
      throw new TesseraError('invalid_request', `limit must be a whole number from 1 to ${MAX_PAGE}.`, {
        field: 'limit',
      });
    }
  }
  const page = await engine.listUsers({ after: query.cursor ?? null, ...(limit ? { limit } : {}) });
  return json(200, { users: page.users.map(userBody), next_cursor: page.next });
}

async function updateUser(ctx: RouteContext): Promise<HttpResponse> {
  const body = validateJsonFields(jsonBody(ctx), {
    roles: { kind: 'string-list', maxLength: 100, optional: true },
    profile: { kind: 'object', optional: true },
    disabled: { kind: 'boolean', optional: true },
    reauth_required: { kind: 'boolean', optional: true },
    bump_token_version: { kind: 'boolean', optional: true },
  });
  if (Object.keys(body).length === 0)
    throw new TesseraError('invalid_request', 'Send at least one field to change.');
  const update: UserUpdate = {};
  if (body.roles !== undefined) update.roles = body.roles as string[];
  if (body.profile !== undefined) update.profile = body.profile as Record<string, string | null>;
  if (body.disabled !== undefined) update.disabled = body.disabled as boolean;
  if (body.reauth_required !== undefined) update.reauthRequired = body.reauth_required as boolean;
  if (body.bump_token_version !== undefined) update.bumpTokenVersion = body.bump_token_version as boolean;
  const { profile } = await ctx.routes.engine.updateUser(userId(ctx), update);
  return json(200, userBody(profile));
}

async function startSession(ctx: RouteContext): Promise<HttpResponse> {
  if (chooseTransport(ctx.request.headers) !== 'body') {
    throw new TesseraError('invalid_request', 'The admin API answers with body transport only.');
  }
  const body = validateJsonFields(jsonBody(ctx), {
    amr: { kind: 'string-list', maxLength: 10 },
    acr: { kind: 'string', maxLength: 256, optional: true, nullable: true },
    auth_time: { kind: 'integer', optional: true },
    device_name: { kind: 'string', maxLength: 100, optional: true, nullable: true },
    ip: { kind: 'string', maxLength: 64, optional: true, nullable: true },
    user_agent: { kind: 'string', maxLength: 512, optional: true, nullable: true },
  });
  // A backend may forward its client's proof to bind the session; `required` is not enforced on this
  // service route, whose caller is the backend, not the key holder.
  const dpopJkt =
    ctx.request.headers.get(DPOP_HEADER) === null ? null : await tokenRequestDpopJkt(ctx.routes, ctx.request);
  const tokens = await ctx.routes.engine.startSession({
    userId: userId(ctx),
    dpopJkt,
    amr: body.amr as string[],
    acr: (body.acr as string | null | undefined) ?? null,
    ...(body.auth_time === undefined ? {} : { authTime: new Date((body.auth_time as number) * 1000) }),
    deviceName: (body.device_name as string | null | undefined) ?? null,
    ip: (body.ip as string | null | undefined) ?? null,
    userAgent: (body.user_agent as string | null | undefined) ?? null,
  });
  return tokenResponse(ctx, tokens, 'body', 201);
}

function identityOf(value: Record<string, unknown>): { issuer: string; subject: string } {
  const body = validateJsonFields(value, {
    issuer: { kind: 'string', maxLength: 2048 },
    subject: { kind: 'string', maxLength: 255 },
  });
  return { issuer: body.issuer as string, subject: body.subject as string };
}

/**
 * The admin API, for backends and operators: users (create, find by email, page through, change
 * roles/profile/disabled/re-authentication), their sessions (start one for a user the backend
 * authenticated, list, end all, end one) and their linked identities. Service routes (see {@link admin}).
 */
export function adminRoutes(base: string): Route[] {
  return [
    admin('POST', `${base}/users`, async (ctx) => {
      const body = validateJsonFields(jsonBody(ctx), {
        email: { kind: 'string', maxLength: 16_384, optional: true, nullable: true },
        email_verified: { kind: 'boolean', optional: true },
        roles: { kind: 'string-list', maxLength: 100, optional: true },
        profile: { kind: 'object', optional: true },
      });
      const profile = await ctx.routes.engine.createUser({
        email: (body.email as string | null | undefined) ?? null,
        ...(body.email_verified === undefined ? {} : { emailVerified: body.email_verified as boolean }),
        ...(body.roles === undefined ? {} : { roles: body.roles as string[] }),
        ...(body.profile === undefined ? {} : { profile: body.profile as Record<string, string | null> }),
      });
      return json(201, userBody(profile));
    }),
    admin('GET', `${base}/users`, listUsers),
    admin('GET', `${base}/users/:id`, async (ctx) => {
      queryOf(ctx, []);
      return json(200, userBody(await ctx.routes.engine.getUser(userId(ctx))));
    }),
    admin('PATCH', `${base}/users/:id`, updateUser),
    admin('POST', `${base}/users/:id/sessions`, startSession),
    admin('GET', `${base}/users/:id/sessions`, async (ctx) => {
      queryOf(ctx, []);
      const user = await ctx.routes.engine.getUser(userId(ctx));
      const sessions = await ctx.routes.engine.listSessions(user.id, null);
      return json(200, { sessions: sessions.map(sessionBody) });
    }),
    admin('DELETE', `${base}/users/:id/sessions`, async (ctx) => {
      const user = await ctx.routes.engine.getUser(userId(ctx));
      return json(200, { revoked: await ctx.routes.engine.adminRevokeUser(user.id) });
    }),
    admin('DELETE', `${base}/sessions/:id`, async (ctx) => {
      const id = ctx.params.id ?? '';
      if (!ID.test(id) || !(await ctx.routes.engine.adminRevokeSession(id))) {
        throw new TesseraError('session_not_found', 'No live session has this id.');
      }
      return empty(204);
    }),
    admin('GET', `${base}/users/:id/identities`, async (ctx) => {
      queryOf(ctx, []);
      const identities = await ctx.routes.engine.listIdentities(userId(ctx));
      return json(200, { identities: identities.map(identityBody) });
    }),
    admin('POST', `${base}/users/:id/identities`, async (ctx) => {
      const id = userId(ctx);
      const identity = identityOf(jsonBody(ctx));
      const result = await ctx.routes.engine.linkIdentity(id, identity);
      const linked = (await ctx.routes.engine.listIdentities(id)).find(
        (i) => i.issuer === identity.issuer && i.subject === identity.subject,
      );
      if (!linked) throw new TesseraError('not_found', 'No such user.');
      return json(result === 'linked' ? 201 : 200, identityBody(linked));
    }),
    admin('DELETE', `${base}/users/:id/identities`, async (ctx) => {
      const id = userId(ctx);
      const query = queryOf(ctx, ['issuer', 'subject']);
      const identity = identityOf(query);
      if (!(await ctx.routes.engine.unlinkIdentity(id, identity))) {
        throw new TesseraError('not_found', 'This user has no such identity.');
      }
      return empty(204);
    }),
  ];
}
