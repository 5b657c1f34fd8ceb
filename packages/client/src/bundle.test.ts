import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { buildClient } from '../scripts/build.ts';
import { measureClientSize, SIZE_BUDGET_BYTES } from '../scripts/size.ts';

it('fits the 4 KB (gzipped) budget, and the copy the demo page serves is the current build', async () => {
  const { gzipped } = await measureClientSize();
  assert.ok(gzipped <= SIZE_BUDGET_BYTES, `${gzipped} bytes gzipped`);
  const served = readFileSync(new URL('../../standalone/public/tessera-client.js', import.meta.url), 'utf8');
  assert.equal(served, await buildClient(), 'run: npm run build:browser -w @tessera/client');
});
