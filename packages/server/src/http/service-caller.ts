import { timingSafeEqual } from 'node:crypto';
import { TesseraError } from '@tessera/core';
import { isHostAllowed } from './allowed-hosts.ts';
import { readBearerToken } from './bearer.ts';
import { isLoopback } from './client-ip.ts';
import { errorResponse, missingTokenResponse } from './error-response.ts';
import type { ResolvedRoutes } from './route.ts';
import type { HttpRequest, HttpResponse } from './types.ts';

/**
 * Authorizes a caller of a service route (introspection, the revocation feed, metrics): the service
 * token (compared in constant time), or with none configured a loopback address, under an allowed
 * `Host`. Returns the refusal to send, or `null` when the caller may proceed.
 */
export function checkServiceCaller(
  request: HttpRequest,
  host: string | null,
  settings: ResolvedRoutes,
): HttpResponse | null {
  const { serviceToken, allowedHosts } = settings;
  // A DNS-rebinding page reaches a loopback server under its own name: loopback trust needs a known Host.
  if ((serviceToken === null || allowedHosts.always) && !isHostAllowed(host, allowedHosts.hosts)) {
    return errorResponse(
      new TesseraError('forbidden', 'Service routes are not served under this host name.'),
    );
  }
  if (serviceToken === null) {
    if (isLoopback(request.ip)) return null;
    return errorResponse(
      new TesseraError('forbidden', 'Set TESSERA_SERVICE_TOKEN to serve callers beyond this machine.'),
    );
  }
  const token = readBearerToken(request.headers);
  if (token === null) return missingTokenResponse();
  const given = Buffer.from(token);
  const expected = Buffer.from(serviceToken);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return errorResponse(new TesseraError('invalid_token', 'The service token is not valid.'), {
      bearer: true,
    });
  }
  return null;
}
