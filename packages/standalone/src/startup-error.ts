/**
 * A failure to start (or to run an admin command) that a setting explains: the message names the
 * setting and the path or host involved, and says what to check. It never holds a password.
 */
export class StartupError extends Error {
  /** The setting to look at (`TESSERA_DATABASE_URL`, `TESSERA_DATA_DIR`, …). */
  readonly setting: string;
  /** `unavailable`: a service did not answer (try again, or start it); `config`: the setting is wrong. */
  readonly kind: 'unavailable' | 'config';
  constructor(
    setting: string,
    message: string,
    kind: 'unavailable' | 'config',
    options?: { cause?: unknown },
  ) {
    super(`${setting}: ${message}`, options);
    this.name = 'StartupError';
    this.setting = setting;
    this.kind = kind;
  }
}

/** The `code` of a Node system error or of the first error inside an `AggregateError`. */
export function errorCode(error: unknown): string | undefined {
  const direct = (error as { code?: unknown } | null)?.code;
  if (typeof direct === 'string') return direct;
  const inner = (error as { errors?: unknown[] } | null)?.errors?.[0];
  const nested = (inner as { code?: unknown } | undefined)?.code;
  return typeof nested === 'string' ? nested : undefined;
}

const FILE_PROBLEMS: Readonly<Record<string, string>> = {
  ENOTDIR: 'a part of the path is a file, not a directory',
  EEXIST: 'a file of that name is in the way',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'the file system is read-only',
  ENOSPC: 'the disk is full',
  ENOENT: 'a part of the path does not exist',
  EISDIR: 'it is a directory',
};

/**
 * A human reading of a file-system error (`ENOTDIR` → "a part of the path is a file, not a
 * directory (ENOTDIR)"), or `undefined` for an error that is not one.
 */
export function describeFileError(error: unknown): string | undefined {
  const code = errorCode(error);
  const problem = code === undefined ? undefined : FILE_PROBLEMS[code];
  return problem === undefined ? undefined : `${problem} (${code})`;
}
