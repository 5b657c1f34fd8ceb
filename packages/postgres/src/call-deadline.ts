// One deadline per store call. A frozen or saturated PostgreSQL must not hold a request longer than
// the store's query timeout, and a call spends that time in more places than its statement: waiting
// for a pooled connection, and, for a refresh, waiting for a batch to go out. Each phase takes what is
// left of one budget fixed when the call began, so the phases cannot add up past it.

import { StoreUnavailableError } from '@tessera/core';
import type pg from 'pg';

/** A pool or a client inside a transaction, as the store's statements use them. */
export interface Queryable {
  query(text: string | pg.QueryConfig, values?: unknown[]): Promise<pg.QueryResult>;
}

/** The instant (on `performance.now()`'s clock) by which a store call must have settled. */
export type Deadline = number;

/** A deadline `budgetMs` from now. */
export function deadlineIn(budgetMs: number): Deadline {
  return performance.now() + budgetMs;
}

/** Milliseconds left before `deadline` (0 once it has passed). */
export function msLeft(deadline: Deadline): number {
  return Math.max(0, deadline - performance.now());
}

/** The error of a store call whose budget ran out: the database did not answer in time (503). */
export function deadlineExceeded(what: string): StoreUnavailableError {
  return new StoreUnavailableError(new Error(`PostgreSQL: ${what} did not finish within the query timeout.`));
}

/**
 * Resolves to a pooled connection, or rejects with {@link deadlineExceeded} once `deadline` passes
 * first. A connection that arrives after the caller gave up goes straight back to the pool.
 */
export async function connectBefore(pool: pg.Pool, deadline: Deadline): Promise<pg.PoolClient> {
  const ms = msLeft(deadline);
  if (ms === 0) throw deadlineExceeded('waiting for a connection');
  const connecting = pool.connect();
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      connecting,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(deadlineExceeded('waiting for a connection')), ms);
      }),
    ]);
  } catch (error) {
    connecting.then(
      (client) => client.release(),
      () => undefined,
    );
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `config` with node-postgres's `query_timeout` set to what is left before `deadline`: a statement
 * the server has not answered by then fails with `Query read timeout` (unavailable), and the caller
 * drops its connection.
 */
export function boundedQuery(
  text: string | pg.QueryConfig,
  values: unknown[] | undefined,
  deadline: Deadline,
): pg.QueryConfig & { query_timeout: number } {
  const ms = Math.ceil(msLeft(deadline));
  if (ms === 0) throw deadlineExceeded('a statement');
  const config = typeof text === 'string' ? { text } : text;
  return { ...config, ...(values === undefined ? {} : { values }), query_timeout: ms };
}
