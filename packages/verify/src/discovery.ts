import { REVOCATION_STREAM_SUFFIX, REVOCATIONS_ENDPOINT_METADATA } from '@tessera/protocol';
import { displayUrl, FetchFailure, fetchJson } from './fetch-json.ts';

/** The issuer endpoints a verifier uses. */
export interface IssuerEndpoints {
  jwksUrl: string;
  /** The revocation snapshot; the stream is {@link IssuerEndpoints.streamUrl}. */
  revocationsUrl: string;
  streamUrl: string;
  introspectionUrl: string;
}

/** What the endpoints are resolved from. */
export interface EndpointSources {
  issuer: string;
  jwksUrl: string | null;
  revocationsUrl: string | null;
  introspectionUrl: string | null;
  /** Whether the revocation feed is followed (its URL is then needed). */
  feed: boolean;
  fetch: typeof fetch;
  timeoutMs: number;
  signal?: AbortSignal;
}

const WELL_KNOWN = '/.well-known/oauth-authorization-server';

/**
 * Where an issuer's RFC 8414 metadata is, in the order to try: the well-known path inserted between
 * the host and the issuer's path (RFC 8414 §3), then, for an issuer with a path, the well-known path
 * appended to it (the OpenID Connect convention, which some servers follow).
 * @example
 * metadataUrls('https://example.com/tenant');
 * // ['https://example.com/.well-known/oauth-authorization-server/tenant',
 * //  'https://example.com/tenant/.well-known/oauth-authorization-server']
 */
export function metadataUrls(issuer: string): string[] {
  const url = new URL(issuer);
  const path = url.pathname.replace(/\/+$/, '');
  const inserted = `${url.origin}${WELL_KNOWN}${path}`;
  return path ? [inserted, `${url.origin}${path}${WELL_KNOWN}`] : [inserted];
}

const urlField = (metadata: Record<string, unknown>, name: string): string | null => {
  const value = metadata[name];
  if (typeof value !== 'string') return null;
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? value : null;
  } catch {
    return null;
  }
};

async function fetchMetadata(sources: EndpointSources): Promise<Record<string, unknown>> {
  const failures: string[] = [];
  for (const url of metadataUrls(sources.issuer)) {
    try {
      const { body } = await fetchJson(url, {
        fetch: sources.fetch,
        timeoutMs: sources.timeoutMs,
        ...(sources.signal ? { signal: sources.signal } : {}),
      });
      if (typeof body !== 'object' || body === null)
        throw new FetchFailure(`GET ${displayUrl(url)} answered no JSON object`, null);
      const metadata = body as Record<string, unknown>;
      const named = typeof metadata.issuer === 'string' ? metadata.issuer.replace(/\/+$/, '') : null;
      // RFC 8414 §3.3: the metadata must name the issuer it was fetched for.
      if (named !== sources.issuer) {
        throw new FetchFailure(
          `GET ${displayUrl(url)} answered metadata for issuer ${JSON.stringify(metadata.issuer ?? null)}, not ${JSON.stringify(sources.issuer)} (set issuer to the tokens' "iss")`,
          null,
        );
      }
      if (urlField(metadata, 'jwks_uri') === null) {
        throw new FetchFailure(`GET ${displayUrl(url)} answered metadata without a jwks_uri`, null);
      }
      return metadata;
    } catch (error) {
      failures.push(error instanceof Error ? error.message : String(error));
    }
  }
  throw new FetchFailure(
    `Cannot discover the issuer's endpoints: ${failures.join('; ')}. Serve RFC 8414 metadata at the issuer, or set the jwksUrl and revocationsUrl options of createVerifier().`,
    null,
  );
}

/**
 * The verifier's endpoints: the URLs given in the options, the rest from the issuer's RFC 8414
 * metadata (`jwks_uri`, `introspection_endpoint`, and Tessera's `tessera_revocations_endpoint`).
 * The metadata is fetched only when the JWKS URL, or the revocations URL of a verifier that follows
 * the feed, is not given. Without metadata, introspection defaults to `<issuer>/oauth/introspect`
 * and the feed to `<issuer>/auth/revocations`.
 * @throws FetchFailure whose message names the URLs tried, what they answered and the option to set.
 */
export async function resolveEndpoints(sources: EndpointSources): Promise<IssuerEndpoints> {
  const needsMetadata = sources.jwksUrl === null || (sources.feed && sources.revocationsUrl === null);
  const metadata = needsMetadata ? await fetchMetadata(sources) : {};
  const revocationsUrl =
    sources.revocationsUrl ??
    urlField(metadata, REVOCATIONS_ENDPOINT_METADATA) ??
    `${sources.issuer}/auth/revocations`;
  return {
    jwksUrl: sources.jwksUrl ?? (urlField(metadata, 'jwks_uri') as string),
    revocationsUrl,
    streamUrl: `${revocationsUrl}${REVOCATION_STREAM_SUFFIX}`,
    introspectionUrl:
      sources.introspectionUrl ??
      urlField(metadata, 'introspection_endpoint') ??
      `${sources.issuer}/oauth/introspect`,
  };
}
