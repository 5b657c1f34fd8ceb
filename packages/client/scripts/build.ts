// Bundles and minifies the client for browsers: dist/tessera-client.min.js (ESM). The demo page serves
// a committed copy (packages/standalone/public/tessera-client.js); a test checks it matches this build.
import { mkdirSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

/** Builds the browser bundle and returns its text. */
export async function buildClient(): Promise<string> {
  const result = await build({
    entryPoints: [new URL('../src/index.ts', import.meta.url).pathname],
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2022',
    platform: 'browser',
    // Our own workspace packages (the shared wire constants) are bundled from source.
    conditions: ['@tessera/source'],
    write: false,
    legalComments: 'none',
  });
  return result.outputFiles[0]?.text ?? '';
}

if (import.meta.main) {
  const code = await buildClient();
  mkdirSync(new URL('../dist/', import.meta.url), { recursive: true });
  writeFileSync(new URL('../dist/tessera-client.min.js', import.meta.url), code);
  writeFileSync(new URL('../../standalone/public/tessera-client.js', import.meta.url), code);
  process.stdout.write(`built ${code.length} bytes\n`);
}
