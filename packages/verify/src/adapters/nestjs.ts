import { type CanActivate, createParamDecorator, type ExecutionContext, HttpException } from '@nestjs/common';
import type { VerifiedClaims, Verifier } from '../create-verifier.ts';
import { authorize } from '../http-errors.ts';

/** Options of `requireAuth`. */
export interface RequireAuthOptions {
  /** The realm in `WWW-Authenticate`. Default `api`. */
  realm?: string;
}

interface HttpRequestLike {
  headers: { authorization?: string | undefined };
  auth?: VerifiedClaims;
}
interface HttpResponseLike {
  setHeader(name: string, value: string): unknown;
}

/**
 * A NestJS guard: verifies `Authorization: Bearer`, puts the claims on `request.auth` (read them with
 * the {@link Claims} parameter decorator), or answers per RFC 6750 (the challenge header is set on the
 * response, the status and JSON body come from an `HttpException`).
 */
export class TesseraAuthGuard implements CanActivate {
  readonly #verifier: Verifier;
  readonly #realm: string;

  constructor(verifier: Verifier, options: RequireAuthOptions = {}) {
    this.#verifier = verifier;
    this.#realm = options.realm ?? 'api';
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const http = context.switchToHttp();
    const request = http.getRequest<HttpRequestLike>();
    const result = await authorize(request.headers.authorization, this.#realm, (token) =>
      this.#verifier.verify(token),
    );
    if ('claims' in result) {
      request.auth = result.claims;
      return true;
    }
    const response = http.getResponse<HttpResponseLike>();
    for (const [name, value] of Object.entries(result.failure.headers)) response.setHeader(name, value);
    throw new HttpException(result.failure.body, result.failure.status);
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
  (_data: unknown, context: ExecutionContext) => context.switchToHttp().getRequest<HttpRequestLike>().auth,
);
