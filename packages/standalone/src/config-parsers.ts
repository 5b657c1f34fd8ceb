import { parseDurationSeconds } from '@tessera/core';
import { z } from 'zod';

/**
 * How one setting's text becomes its value: a zod schema from the trimmed text. Parsing only:
 * whether the value is in range, or agrees with another, is for whoever uses it (the engine's
 * `resolveEngineOptions` for engine options, the setting's row for the standalone's own).
 */
export type SettingParser<T> = z.ZodType<T, string>;

/** A failed parse: `ctx.issues` gets `message`, the caller's `safeParse` reports it. */
function fail(ctx: z.core.$RefinementCtx<string>, input: string, message: string): never {
  ctx.issues.push({ code: 'custom', input, message });
  return z.NEVER;
}

/** Plain text (the setting's trimmed value). */
export function text(): SettingParser<string> {
  return z.string();
}

/**
 * A duration in whole seconds: plain seconds or a suffix `s`, `m`, `h`, `d` (`90`, `10m`, `14d`), as
 * `parseDurationSeconds` reads it. With `range` (seconds, inclusive), a value outside it is refused.
 */
export function durationSeconds(range?: { min: number; max: number }): SettingParser<number> {
  return z.string().transform((input, ctx) => {
    const seconds = parseDurationSeconds(input);
    if (seconds === undefined) {
      return fail(
        ctx,
        input,
        `"${input}" is not a duration; use a number of seconds or a suffix s, m, h, d (e.g. 10m).`,
      );
    }
    if (range && (seconds < range.min || seconds > range.max)) {
      return fail(ctx, input, `${seconds}s is out of range (${range.min}s to ${range.max}s).`);
    }
    return seconds;
  });
}

/** A whole number in decimal digits; with `range` (inclusive), a value outside it is refused. */
export function wholeNumber(range?: { min: number; max: number }): SettingParser<number> {
  const expected = range ? `a whole number from ${range.min} to ${range.max}` : 'a whole number';
  return z.string().transform((input, ctx) => {
    const value = Number(input);
    if (!/^\d{1,9}$/.test(input) || (range && (value < range.min || value > range.max))) {
      return fail(ctx, input, `"${input}" must be ${expected}.`);
    }
    return value;
  });
}

/** A boolean from one of the `truthy` or `falsy` words, in any case (zod's `stringbool`). */
export function flag(truthy: string[], falsy: string[]): SettingParser<boolean> {
  return z.stringbool({
    truthy,
    falsy,
    case: 'insensitive',
    error: (issue) => `"${String(issue.input)}" must be one of ${[...truthy, ...falsy].join(', ')}.`,
  });
}

/** One of `values` (exactly, lower case), mapped through `map` when given. */
export function oneOf<const T extends string, R = T>(
  values: readonly T[],
  map?: (value: T) => R,
): SettingParser<R> {
  const names = values.length > 1 ? `${values.slice(0, -1).join(', ')} or ${values.at(-1)}` : values[0];
  return z
    .enum(values as [T, ...T[]], { error: (issue) => `"${String(issue.input)}" must be ${names}.` })
    .transform((value) => (map ? map(value) : (value as unknown as R)));
}

/**
 * An http(s) URL without fragment or credentials, and without a query unless `query` allows one,
 * returned as given (for an issuer or an origin, whose exact text matters).
 */
export function httpUrl(options: { query?: boolean } = {}): SettingParser<string> {
  return z.string().transform((input, ctx) => {
    let url: URL;
    try {
      url = new URL(input);
    } catch {
      return fail(ctx, input, `"${input}" is not a URL.`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      return fail(ctx, input, `"${input}" must be an http or https URL.`);
    }
    if ((url.search && !options.query) || url.hash || url.username || url.password) {
      return fail(
        ctx,
        input,
        `"${input}" must not have ${options.query ? 'a fragment or credentials' : 'a query, fragment or credentials'}.`,
      );
    }
    return input;
  });
}

/** A comma-separated list, each item trimmed and parsed by `item`; empty items are dropped. */
export function list<T>(item: SettingParser<T>): SettingParser<T[]> {
  return z
    .string()
    .transform((input) =>
      input
        .split(',')
        .map((entry) => entry.trim())
        .filter((entry) => entry !== ''),
    )
    .pipe(z.array(item));
}

/** JSON text, then `shape` (a zod schema of the parsed value). */
export function json<T>(shape: z.ZodType<T>): SettingParser<T> {
  return z
    .string()
    .transform((input, ctx): unknown => {
      try {
        return JSON.parse(input);
      } catch (error) {
        return fail(ctx, input, `is not JSON (${(error as Error).message}).`);
      }
    })
    .pipe(shape);
}

/**
 * `parse`'s value, or its failure through `throws` (which the caller turns into an error naming the
 * setting): the failure as one sentence, with the path into a list or JSON value when there is one.
 */
export function parseSetting<T>(
  parse: SettingParser<T>,
  input: string,
  throws: (message: string) => never,
): T {
  const result = parse.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue && issue.path.length > 0 ? ` (at ${issue.path.join('.')})` : '';
  return throws(`${issue?.message ?? 'is not valid.'}${where}`);
}

/** Decodes a secret given as base64url (or base64); `null` when it is under 32 bytes or not base64. */
export function decodeSecret(text: string): Uint8Array | null {
  const trimmed = text.trim();
  if (!/^[A-Za-z0-9_\-+/]+=*$/.test(trimmed)) return null;
  const bytes = Buffer.from(trimmed.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''), 'base64url');
  return bytes.length >= 32 ? new Uint8Array(bytes) : null;
}
