import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { serve } from '@hono/node-server';
import type { Engine } from '@tessera/core';
import { requireSession as webRequireSession } from '@tessera/server';
import { requireSession as expressRequireSession } from '@tessera/server/express';
import { requireSession as fastifyRequireSession } from '@tessera/server/fastify';
import { requireSession as honoRequireSession } from '@tessera/server/hono';
import { requireSession as koaRequireSession } from '@tessera/server/koa';
import { requireSession as nextRequireSession } from '@tessera/server/next';
import { requireSession as nodeRequireSession } from '@tessera/server/node';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import Koa from 'koa';
import { createTestEngine, listenOnLoopback, ORIGIN } from './helpers/mount-contract.ts';
import { PASSWORD } from './helpers/server.ts';

type Host = { url: string; close(): Promise<void> };

/**
 * Each host serves `/me` (GET and POST) behind its framework's `requireSession`, answering the claims'
 * `sub`, and `/maybe` behind `requireSession(engine, { optional: true })`, answering `sub` or null.
 */
const HOSTS: Record<string, (engine: Engine) => Promise<Host>> = {
  async express(engine) {
    const app = express();
    const guard = expressRequireSession(engine);
    app.get('/me', guard, (req, res) => res.json({ sub: req.auth?.sub }));
    app.post('/me', guard, (req, res) => res.json({ sub: req.auth?.sub }));
    app.get('/maybe', expressRequireSession(engine, { optional: true }), (req, res) =>
      res.json({ sub: req.auth?.sub ?? null }),
    );
    return listenOnLoopback(app);
  },
  async node(engine) {
    const guard = nodeRequireSession(engine);
    const optional = nodeRequireSession(engine, { optional: true });
    const server = createServer((req, res) => {
      const answer = () =>
        res
          .setHeader('content-type', 'application/json')
          .end(JSON.stringify({ sub: (req as { auth?: { sub: string } }).auth?.sub ?? null }));
      (req.url === '/maybe' ? optional : guard)(req, res, answer);
    });
    return listenOnLoopback({ listen: (port, host) => server.listen(port, host) });
  },
  async koa(engine) {
    const app = new Koa();
    const guard = koaRequireSession(engine);
    const optional = koaRequireSession(engine, { optional: true });
    app.use((ctx, next) =>
      (ctx.path === '/maybe' ? optional : guard)(ctx, async () => {
        ctx.body = { sub: ctx.state.auth?.sub ?? null };
        await next();
      }),
    );
    return listenOnLoopback(app);
  },
  async fastify(engine) {
    const app = Fastify();
    const guard = fastifyRequireSession(engine);
    app.get('/me', { preHandler: guard }, async (request) => ({ sub: request.auth?.sub }));
    app.post('/me', { preHandler: guard }, async (request) => ({ sub: request.auth?.sub }));
    app.get('/maybe', { preHandler: fastifyRequireSession(engine, { optional: true }) }, async (request) => ({
      sub: request.auth?.sub ?? null,
    }));
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    return { url, close: () => app.close() };
  },
  async hono(engine) {
    const app = new Hono();
    const guard = honoRequireSession(engine);
    app.get('/me', guard, (c) => c.json({ sub: c.get('auth').sub }));
    app.post('/me', guard, (c) => c.json({ sub: c.get('auth').sub }));
    app.get('/maybe', honoRequireSession(engine, { optional: true }), (c) =>
      c.json({ sub: c.get('auth')?.sub ?? null }),
    );
    const server = await new Promise<Server>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s as Server));
    });
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () => new Promise((resolve) => server.close(() => resolve())),
    };
  },
  // The web-standard core, as a Next.js route handler or any fetch host uses it.
  async web(engine) {
    const guard = nextRequireSession(engine);
    const optional = webRequireSession(engine, { optional: true });
    const server = createServer(async (req, res) => {
      const headers = new Headers();
      for (const [name, value] of Object.entries(req.headers))
        if (typeof value === 'string') headers.set(name, value);
      const request = new Request(`http://127.0.0.1${req.url}`, { method: req.method ?? 'GET', headers });
      const result = req.url === '/maybe' ? await optional(request) : await guard(request);
      if (result instanceof Response) {
        result.headers.forEach((value, name) => {
          res.setHeader(name, value);
        });
        res.writeHead(result.status).end(await result.text());
        return;
      }
      res
        .setHeader('content-type', 'application/json')
        .end(JSON.stringify({ sub: result?.claims.sub ?? null }));
    });
    return listenOnLoopback({ listen: (port, host) => server.listen(port, host) });
  },
};

describe('requireSession reads the access cookie in every host, with the CSRF rules for unsafe methods', () => {
  let engine: Engine;
  let token: string;
  let sub: string;
  before(async () => {
    engine = await createTestEngine();
    const tokens = await engine.register({ email: 'every-host@example.com', password: PASSWORD });
    token = tokens.accessToken;
    sub = tokens.userId;
  });
  after(() => engine.close());

  for (const [name, host] of Object.entries(HOSTS)) {
    it(name, async () => {
      const { url, close } = await host(engine);
      try {
        const send = async (method: string, path: string, headers: Record<string, string>) => {
          const response = await fetch(`${url}${path}`, { method, headers });
          return {
            status: response.status,
            body: (await response.json()) as { sub?: string | null; error?: string },
          };
        };
        const cookie = { cookie: `theme=dark; tessera_access=${token}` };
        assert.deepEqual(await send('GET', '/me', cookie), { status: 200, body: { sub } });
        // Unsafe methods with the cookie need an allowed Origin, or the header a form cannot send.
        assert.deepEqual(await send('POST', '/me', { ...cookie, origin: ORIGIN }), {
          status: 200,
          body: { sub },
        });
        assert.deepEqual(await send('POST', '/me', { ...cookie, 'tessera-transport': 'cookie' }), {
          status: 200,
          body: { sub },
        });
        const noProof = await send('POST', '/me', cookie);
        assert.equal(noProof.status, 403);
        assert.equal(noProof.body.error, 'csrf_header_required');
        const foreign = await send('POST', '/me', { ...cookie, origin: 'https://evil.example' });
        assert.equal(foreign.status, 403);
        assert.equal(foreign.body.error, 'forbidden_origin');
        // A bearer token needs no CSRF proof (a browser never attaches it by itself), and wins over the cookie.
        assert.equal((await send('POST', '/me', { authorization: `Bearer ${token}` })).status, 200);
        assert.equal((await send('GET', '/me', { ...cookie, authorization: 'Bearer nope' })).status, 401);
        const none = await send('GET', '/me', { cookie: 'theme=dark' });
        assert.equal(none.status, 401);
        // Optional: no session is not a refusal.
        assert.deepEqual(await send('GET', '/maybe', {}), { status: 200, body: { sub: null } });
        assert.deepEqual(await send('GET', '/maybe', { cookie: 'tessera_access=garbage' }), {
          status: 200,
          body: { sub: null },
        });
        assert.deepEqual(await send('GET', '/maybe', cookie), { status: 200, body: { sub } });
        assert.equal(
          (await send('GET', '/maybe', { authorization: 'Bearer' })).status,
          400,
          'malformed: refused',
        );
      } finally {
        await close();
      }
    });
  }
});
