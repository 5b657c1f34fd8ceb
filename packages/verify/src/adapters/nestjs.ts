import { type CanActivate, createParamDecorator, type ExecutionContext, HttpException } from '@nestjs/common';
import type { VerifiedClaims, Verifier } from '../create-verifier.ts';
import {
  authenticateRequest,
  checkRequireAuthOptions,
  type RequestParts,
  type RequireAuthOptions,
} from '../request-auth.ts';

export type { RequireAuthOptions } from '../request-auth.ts';

/** The request a guarded NestJS handler receives (Express or Fastify underneath): the claims on `auth`. */
export interface AuthenticatedRequest extends RequestParts {
  /** The verified access-token claims, set by {@link TesseraAuthGuard}. */
  auth?: VerifiedClaims;
}
interface HttpResponseLike {
  setHeader?(name: string, value: string): unknown;
  header?(name: string, value: string): unknown;
}

/**
 * A NestJS guard: verifies `Authorization: Bearer` (or `DPoP` with its proof, RFC 9449) through {@link authenticateRequest}, puts the
 * claims on `request.auth` (read them with the {@link Claims} parameter decorator), or answers per
 * RFC 6750 and, with `maxAge` / `acr`, RFC 9470 (the challenge header is set on the response, the
 * status and JSON body come from an `HttpException`). Throws a `TypeError` for a bad option.
 */
export class TesseraAuthGuard implements CanActivate {
  readonly #verifier: Verifier;
  readonly #options: RequireAuthOptions;

  constructor(verifier: Verifier, options: RequireAuthOptions = {}) {
    this.#verifier = verifier;
    this.#options = checkRequireAuthOptions(options);
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const http = context.switchToHttp();
    const request = http.getRequest<AuthenticatedRequest>();
    const { claims, refusal } = await authenticateRequest(this.#verifier, request, this.#options);
    if (!refusal) {
      request.auth = claims;
      return true;
    }
    const response = http.getResponse<HttpResponseLike>();
    for (const [name, value] of Object.entries(refusal.headers)) {
      // Express answers with setHeader, Fastify's reply with header.
      if (response.setHeader) response.setHeader(name, value);
      else response.header?.(name, value);
    }
    throw new HttpException(refusal.body, refusal.status);
  }
}

/**
 * The guard for a verifier, named like every other adapter's entry point.
 * @example
 * UseGuards(requireAuth(verifier))(MeController);
 */
export function requireAuth(verifier: Verifier, options: RequireAuthOptions = {}): TesseraAuthGuard {
  return new TesseraAuthGuard(verifier, options);
}

/** Parameter decorator giving a handler the verified claims (`request.auth`). */
export const Claims: () => ParameterDecorator = createParamDecorator(
  (_data: unknown, context: ExecutionContext) =>
    context.switchToHttp().getRequest<AuthenticatedRequest>().auth,
);
