export type { TesseraHandler } from './handler.ts';
export { createHandler } from './handler.ts';
export { defaultAllowedHosts, isHostAllowed, parseAllowedHosts } from './http/allowed-hosts.ts';
export type { ClientIpResolver, TrustProxy } from './http/client-ip.ts';
export { createClientIpResolver, isLoopback, normalizeIp, parseTrustProxy } from './http/client-ip.ts';
export { empty, errorResponse, json } from './http/error-response.ts';
export type { HostRequestInfo } from './http/incoming.ts';
export type {
  OptionalSessionGuard,
  RequireSessionOptions,
  SessionAuth,
  SessionGuard,
} from './http/require-session.ts';
export { requireSession } from './http/require-session.ts';
export type { HandlerOptions, ResponseInfo, Route, RouteContext, RoutesOptions } from './http/route.ts';
export { SECURITY_HEADERS } from './http/security-headers.ts';
export { sessionResponse } from './http/session-response.ts';
export { ACCESS_COOKIE, ACCESS_COOKIE_HEADER, REFRESH_COOKIE, SESSION_COOKIE } from './http/transport.ts';
export type { HeaderReader, HttpRequest, HttpResponse, RequestBody } from './http/types.ts';
export { MAX_BODY_BYTES } from './http/types.ts';
export type { RevocationFeed, RevocationFeedOptions, RevocationSnapshot } from './revocation-feed.ts';
export { createRevocationFeed, toWire } from './revocation-feed.ts';
