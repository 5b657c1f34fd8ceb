#!/usr/bin/env node
import { runCli } from '../cli.ts';

runCli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`tessera: ${error instanceof Error ? error.message : 'failed'}\n`);
    process.exitCode = 1;
  },
);
