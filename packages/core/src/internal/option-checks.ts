import { TesseraError } from '../errors.ts';

/** An `invalid_configuration` error naming `option` (the error's `field`) at the start of its message. */
export function configError(option: string, message: string): TesseraError {
  return new TesseraError('invalid_configuration', `${option} ${message}`, { field: option });
}

/** A short, safe rendering of a rejected value for a configuration message (never a secret). */
export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) {
    return String(value);
  }
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}

/** `value` when it is a whole number from `min` to `max`; else throws naming `option`. */
export function wholeNumber(option: string, value: unknown, min: number, max: number, unit = ''): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    const range = unit ? `${min} to ${max} ${unit}` : `${min} to ${max}`;
    throw configError(option, `must be a whole number from ${range}; got ${show(value)}.`);
  }
  return value;
}

/** `value` when it is a boolean; else throws naming `option`. */
export function boolean(option: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw configError(option, `must be true or false; got ${show(value)}.`);
  return value;
}

/** `value` when it is one of `allowed`; else throws naming `option`. */
export function oneOf<T extends string>(option: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw configError(option, `must be one of ${allowed.join(', ')}; got ${show(value)}.`);
  }
  return value as T;
}

/** `value` when it is an object whose `methods` are functions (a store, a clock, a bus…). */
export function implementation<T>(option: string, value: unknown, methods: readonly string[]): T {
  const missing =
    typeof value !== 'object' || value === null
      ? methods
      : methods.filter((name) => typeof (value as Record<string, unknown>)[name] !== 'function');
  if (missing.length > 0) {
    throw configError(
      option,
      `must be an object with the methods ${methods.join(', ')} (missing ${missing.join(', ')}).`,
    );
  }
  return value as T;
}
