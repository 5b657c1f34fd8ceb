// A resource service in NestJS that accepts Tessera access tokens via @tessera/verify. Written without
// decorator syntax (Node's type stripping cannot run it): decorators are applied as functions.
import 'reflect-metadata';
import type { Server } from 'node:http';
import { Controller, Get, Module, UseGuards } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { VerifiedClaims, Verifier } from '@tessera/verify';
import { Claims, requireAuth } from '@tessera/verify/nestjs';
import { runFromCommandLine } from '../verify-env.ts';

/**
 * Builds the Nest app: `GET /me` answers the verified claims; `GET /recent` only to a user who signed in
 * (or re-authenticated) within the last 5 minutes (RFC 9470 step-up: otherwise 401 with `max_age=300`).
 * @example
 * const app = await createApp(verifierFromEnv());
 */
export async function createApp(verifier: Verifier) {
  /** A controller answering `GET /<path>` with the claims, behind `guard`. */
  const claimsController = (path: string, guard: ReturnType<typeof requireAuth>) => {
    class ClaimsController {
      claims(claims: VerifiedClaims) {
        return { framework: 'nestjs', claims };
      }
    }
    const descriptor = Object.getOwnPropertyDescriptor(
      ClaimsController.prototype,
      'claims',
    ) as PropertyDescriptor;
    Claims()(ClaimsController.prototype, 'claims', 0);
    Get(path)(ClaimsController.prototype, 'claims', descriptor);
    Reflect.defineMetadata('design:paramtypes', [Object], ClaimsController.prototype, 'claims');
    UseGuards(guard)(ClaimsController);
    Controller()(ClaimsController);
    return ClaimsController;
  };
  class AppModule {}
  Module({
    controllers: [
      claimsController('me', requireAuth(verifier)),
      claimsController('recent', requireAuth(verifier, { maxAge: 300 })),
    ],
  })(AppModule);
  return NestFactory.create(AppModule, { logger: false });
}

/**
 * Listens on `port` (0: any free one).
 * @example
 * const server = await listen(verifierFromEnv(), 5000);
 */
export async function listen(verifier: Verifier, port = 0): Promise<Server> {
  const app = await createApp(verifier);
  await app.listen(port, '127.0.0.1');
  const server = app.getHttpServer() as Server;
  // Closing goes through Nest (which closes the HTTP server itself), without touching the server object.
  return Object.assign(Object.create(server) as Server, {
    close: (callback?: (error?: Error) => void) => {
      app.close().then(() => callback?.(), callback);
      return server;
    },
  });
}

if (import.meta.main) await runFromCommandLine('NestJS', listen);
