import type { RenewClient } from '../engine/policies/session-policy.ts';
import { TesseraError } from '../errors.ts';

/**
 * Checks that a method's input is an object (library callers in JavaScript can pass anything).
 * Throws {@link TesseraError} `invalid_request`.
 */
export function assertInputObject(value: unknown): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TesseraError('invalid_request', 'The input must be an object.');
  }
}

/**
 * The client details of a request (IP, user agent), or none when `value` is not an object. The values
 * are not trusted to be strings: what stores or keys them checks their type.
 */
export function clientDetails(value: unknown): RenewClient {
  return typeof value === 'object' && value !== null ? (value as RenewClient) : {};
}
