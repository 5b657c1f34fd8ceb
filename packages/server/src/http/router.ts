import { TesseraError } from '@tessera/core';
import type { Route } from './route.ts';

/** The outcome of matching a path: a route and its parameters, or the methods the path has. */
export interface RouteMatch {
  /** The path pattern, for metrics (`/auth/sessions/:id`). */
  label: string;
  /** The path below the mount prefix. */
  path: string;
  /** Every route registered at this path (one per method). */
  routes: readonly Route[];
  params: Record<string, string>;
}

interface PatternEntry {
  pattern: RegExp;
  names: string[];
  label: string;
  prefixLength: number;
  routes: Route[];
}

/** Matches request paths against every route once (one lookup for static paths, a scan for the few with parameters). */
export interface Router {
  /** The routes at `pathname` (the full request path), or `null` when none is there. Throws `invalid_request` for a parameter that is not valid percent-encoding. */
  match(pathname: string): RouteMatch | null;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Compiles `routes` mounted at `prefix` (a route with `root` ignores the prefix). Static paths go in
 * a map; paths with `:name` segments become anchored patterns whose parameters match one segment.
 */
export function createRouter(routes: readonly Route[], prefix: string): Router {
  const statics = new Map<string, RouteMatch>();
  const patterns: PatternEntry[] = [];
  for (const route of routes) {
    const base = route.root ? '' : prefix;
    const full = `${base}${route.path}`;
    if (!route.path.includes(':')) {
      const existing = statics.get(full);
      if (existing) (existing.routes as Route[]).push(route);
      else statics.set(full, { label: route.path, path: route.path, routes: [route], params: {} });
      continue;
    }
    const existing = patterns.find((p) => p.label === route.path && p.prefixLength === base.length);
    if (existing) {
      existing.routes.push(route);
      continue;
    }
    const names: string[] = [];
    const source = full
      .split('/')
      .map((part) => {
        if (!part.startsWith(':')) return escapeRegExp(part);
        names.push(part.slice(1));
        return '([^/]+)';
      })
      .join('/');
    patterns.push({
      pattern: new RegExp(`^${source}$`),
      names,
      label: route.path,
      prefixLength: base.length,
      routes: [route],
    });
  }
  return {
    match(pathname) {
      const hit = statics.get(pathname);
      if (hit) return hit;
      for (const entry of patterns) {
        const values = entry.pattern.exec(pathname);
        if (!values) continue;
        const params: Record<string, string> = {};
        entry.names.forEach((name, i) => {
          try {
            params[name] = decodeURIComponent(values[i + 1] ?? '');
          } catch {
            throw new TesseraError('invalid_request', 'The request URL is malformed.');
          }
        });
        return { label: entry.label, path: pathname.slice(entry.prefixLength), routes: entry.routes, params };
      }
      return null;
    },
  };
}
