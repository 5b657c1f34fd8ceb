import { fileURLToPath } from 'node:url';
import type { NextConfig } from 'next';

const config: NextConfig = {
  // The engine runs as Node loads it (node:sqlite, the argon2 binding, its signing worker), not bundled.
  serverExternalPackages: ['@tessera/core'],
  // In this repository the @tessera packages are workspaces two folders up.
  turbopack: { root: fileURLToPath(new URL('../..', import.meta.url)) },
  outputFileTracingRoot: fileURLToPath(new URL('../..', import.meta.url)),
  poweredByHeader: false,
};

export default config;
