import { systemClock } from '@tessera/core';
import { defaultAllowedHosts, parseAllowedHosts } from './allowed-hosts.ts';
import { createClientIpResolver, type TrustProxy } from './client-ip.ts';
import type { HandlerOptions, ResolvedRoutes } from './route.ts';

function toTrustProxy(value: HandlerOptions['trustProxy']): TrustProxy {
  if (value === undefined || value === null) return null;
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0 || value > 99)
      throw new TypeError('trustProxy: a hop count from 0 to 99.');
    return value === 0 ? null : { hops: value };
  }
  if (Array.isArray(value)) return value.length === 0 ? null : { cidrs: value };
  return value as TrustProxy;
}

/** Resolves a handler's options once: defaults, the client-address resolver, the allowed hosts. Throws a `TypeError` for `trustProxy` without `serviceToken`. */
export function resolveSettings(options: HandlerOptions): ResolvedRoutes {
  const issuer = options.engine.settings.issuer;
  const authPath = options.authPath ?? '/auth';
  const prefix = (options.prefix ?? '').replace(/\/+$/, '');
  const trust = toTrustProxy(options.trustProxy);
  const serviceToken = options.serviceToken ?? null;
  if (trust !== null && serviceToken === null) {
    // Loopback-only service routes would then trust whatever address the proxies report.
    throw new TypeError(
      'trustProxy needs serviceToken: with proxies trusted, service routes cannot rely on loopback.',
    );
  }
  return {
    engine: options.engine,
    authPath,
    oauthPath: options.oauthPath ?? '/oauth',
    adminPath: options.adminPath === false ? null : (options.adminPath ?? '/admin'),
    prefix,
    publicUrl: (options.publicUrl ?? new URL(issuer).origin).replace(/\/+$/, ''),
    cookie: {
      path: `${prefix}${authPath}`,
      secure: options.cookieSecure ?? true,
      allowedOrigins: options.allowedOrigins ?? [new URL(issuer).origin],
    },
    serviceToken,
    resolveIp: createClientIpResolver(trust),
    allowedHosts: options.allowedHosts
      ? { hosts: parseAllowedHosts(options.allowedHosts), always: true }
      : { hosts: defaultAllowedHosts(issuer), always: false },
    clock: options.clock ?? systemClock,
    steadyClock: options.steadyClock ?? options.clock ?? null,
  };
}
