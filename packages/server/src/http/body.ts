import { TesseraError } from '@tessera/core';
import type { HttpRequest } from './types.ts';

/** Which body encodings a route accepts. */
export type BodyFormat = 'json' | 'json-or-form';

/** One field of a request body: a string with a length cap, optional or required, maybe nullable. */
export interface FieldSpec {
  maxLength: number;
  optional?: boolean;
  nullable?: boolean;
}

/** A body schema: the only fields allowed. */
export type BodySchema = Readonly<Record<string, FieldSpec>>;

/** A validated body: each declared field a string, `null` (if nullable) or absent. */
export type ParsedBody = Record<string, string | null | undefined>;

function mediaType(request: HttpRequest): string | null {
  const header = request.headers.get('content-type');
  return header ? (header.split(';')[0] ?? '').trim().toLowerCase() : null;
}

function decodeUtf8(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new TesseraError('invalid_request', 'The request body is not valid UTF-8.');
  }
}

function parseForm(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(text)) {
    // RFC 6749 §3.2: parameters must not be included more than once.
    if (Object.hasOwn(out, name)) {
      throw new TesseraError('invalid_request', `The parameter "${name}" is repeated.`, { field: name });
    }
    out[name] = value;
  }
  return out;
}

/**
 * Reads the body as the route's format. An empty body (and none at all) reads as `{}`. Throws
 * `unsupported_media_type` (or `invalid_request` when `mediaError` says so, for RFC 6749 routes)
 * and `invalid_request` for malformed JSON or a non-object.
 */
export function readBody(
  request: HttpRequest,
  format: BodyFormat,
  mediaError: 'unsupported_media_type' | 'invalid_request' = 'unsupported_media_type',
): { value: Record<string, unknown>; form: boolean } {
  const body = request.body;
  if (body.kind === 'none' || (body.kind === 'raw' && body.bytes.length === 0))
    return { value: {}, form: false };
  const type = mediaType(request);
  const isForm = type === 'application/x-www-form-urlencoded';
  if (type !== 'application/json' && !(format === 'json-or-form' && isForm)) {
    const accepted =
      format === 'json' ? 'application/json' : 'application/x-www-form-urlencoded or application/json';
    throw new TesseraError(mediaError, `The request body must be ${accepted}.`);
  }
  let value: unknown;
  if (body.kind === 'parsed') {
    value = body.value;
  } else if (isForm) {
    value = parseForm(decodeUtf8(body.bytes));
  } else {
    try {
      value = JSON.parse(decodeUtf8(body.bytes));
    } catch (error) {
      if (error instanceof TesseraError) throw error;
      throw new TesseraError('invalid_request', 'The request body is not valid JSON.');
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TesseraError('invalid_request', 'The request body must be a JSON object.');
  }
  return { value: value as Record<string, unknown>, form: isForm };
}

/**
 * Checks `value` against `schema`: no unknown fields (unless `ignoreUnknown`, as RFC 6749 §3.2 asks of
 * OAuth endpoints), required fields present, every field a string within its length cap (or `null`
 * where nullable). Throws `invalid_request` naming the field.
 */
export function validateFields(
  value: Record<string, unknown>,
  schema: BodySchema,
  options: { ignoreUnknown?: boolean } = {},
): ParsedBody {
  const out: ParsedBody = {};
  if (!options.ignoreUnknown) refuseUnknownFields(value, schema);
  for (const [name, spec] of Object.entries(schema)) {
    const field = readField(value, name, spec.optional === true);
    if (field === undefined) continue;
    if (field === null && spec.nullable) {
      out[name] = null;
      continue;
    }
    if (typeof field !== 'string') {
      throw new TesseraError('invalid_request', `The field "${name}" must be a string.`, { field: name });
    }
    if (field.length > spec.maxLength) {
      throw new TesseraError('invalid_request', `The field "${name}" is too long.`, { field: name });
    }
    out[name] = field;
  }
  return out;
}

/** The field `name` of `value`, or `undefined` when it is absent and optional. Throws `invalid_request` when a required one is absent. */
function readField(value: Record<string, unknown>, name: string, optional: boolean): unknown {
  const field = Object.hasOwn(value, name) ? value[name] : undefined;
  if (field === undefined && !optional) {
    throw new TesseraError('invalid_request', `The field "${name}" is required.`, { field: name });
  }
  return field;
}

function refuseUnknownFields(
  value: Record<string, unknown>,
  schema: Readonly<Record<string, unknown>>,
): void {
  for (const name of Object.keys(value)) {
    if (!Object.hasOwn(schema, name)) {
      throw new TesseraError('invalid_request', `Unknown field "${name.slice(0, 64)}".`, {
        field: name.slice(0, 64),
      });
    }
  }
}

/** The JSON type a field of a typed body must have. */
export type JsonFieldKind = 'string' | 'boolean' | 'integer' | 'string-list' | 'object';

/** One field of a typed JSON body (admin routes): its JSON type, and for strings a length cap. */
export interface JsonFieldSpec {
  kind: JsonFieldKind;
  /** Strings: the longest accepted; lists: the most items. */
  maxLength?: number;
  optional?: boolean;
  nullable?: boolean;
}

function hasKind(value: unknown, spec: JsonFieldSpec): boolean {
  switch (spec.kind) {
    case 'string':
      return typeof value === 'string' && value.length <= (spec.maxLength ?? Number.POSITIVE_INFINITY);
    case 'boolean':
      return typeof value === 'boolean';
    case 'integer':
      return Number.isSafeInteger(value);
    case 'string-list':
      return (
        Array.isArray(value) &&
        value.length <= (spec.maxLength ?? Number.POSITIVE_INFINITY) &&
        value.every((item) => typeof item === 'string')
      );
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
  }
}

const KIND_NAMES: Readonly<Record<JsonFieldKind, string>> = {
  string: 'a string',
  boolean: 'true or false',
  integer: 'a whole number',
  'string-list': 'a list of strings',
  object: 'an object',
};

/**
 * Checks a JSON body whose fields are not all strings: no unknown fields, required fields present, each
 * of its declared JSON type (and within its cap). Deeper rules (role names, profile values) are the
 * engine's. Throws `invalid_request` naming the field.
 */
export function validateJsonFields(
  value: Record<string, unknown>,
  schema: Readonly<Record<string, JsonFieldSpec>>,
): Record<string, unknown> {
  refuseUnknownFields(value, schema);
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(schema)) {
    const field = readField(value, name, spec.optional === true);
    if (field === undefined) continue;
    if (!(field === null && spec.nullable) && !hasKind(field, spec)) {
      const cap = spec.maxLength === undefined ? '' : ` (at most ${spec.maxLength})`;
      throw new TesseraError(
        'invalid_request',
        `The field "${name}" must be ${KIND_NAMES[spec.kind]}${cap}.`,
        {
          field: name,
        },
      );
    }
    out[name] = field;
  }
  return out;
}
