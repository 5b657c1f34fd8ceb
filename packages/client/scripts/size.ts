// Prints the browser bundle's size minified and gzipped; exits non-zero above the 4 KB budget.
import { gzipSync } from 'node:zlib';
import { buildClient } from './build.ts';

/** The budget for the minified, gzipped browser build. */
export const SIZE_BUDGET_BYTES = 4096;

/** Minified and gzipped sizes of the browser build, in bytes. */
export async function measureClientSize(): Promise<{ minified: number; gzipped: number }> {
  const code = await buildClient();
  return { minified: Buffer.byteLength(code), gzipped: gzipSync(code, { level: 9 }).length };
}

if (import.meta.main) {
  const { minified, gzipped } = await measureClientSize();
  process.stdout.write(
    `@tessera/client browser build: ${minified} bytes minified, ${gzipped} bytes gzipped (budget ${SIZE_BUDGET_BYTES})\n`,
  );
  if (gzipped > SIZE_BUDGET_BYTES) process.exitCode = 1;
}
