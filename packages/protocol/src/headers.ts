/**
 * Header names that Tessera's server, its verifier and its client must agree on. Lower case, as
 * HTTP/2 and the `Headers` class write them.
 */

/** Selects the refresh-token transport, and proves a cookie request is not a cross-site form. */
export const TRANSPORT_HEADER = 'tessera-transport';
/** `sliding-single-token`: a renewed access token the server hands back on a response. */
export const RENEWED_TOKEN_HEADER = 'tessera-access-token';
/** `sliding-single-token`: the renewed token's lifetime in seconds. */
export const RENEWED_TOKEN_EXPIRES_HEADER = 'tessera-access-token-expires-in';
