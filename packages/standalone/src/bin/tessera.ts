#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { nodeVersionProblem } from './node-version.ts';

// Check the Node version before importing anything that needs a newer one (node:sqlite): an old Node
// gets a sentence saying which version to install instead of a module-loading crash.
const { engines } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  engines?: { node?: string };
};
const problem = nodeVersionProblem(process.versions.node, engines?.node);
if (problem !== null) {
  process.stderr.write(problem);
  process.exitCode = 1;
} else {
  const { runCli } = await import('../cli.ts');
  runCli(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`tessera: ${error instanceof Error ? error.message : 'failed'}\n`);
      process.exitCode = 1;
    },
  );
}
