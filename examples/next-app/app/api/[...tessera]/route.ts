// Every Tessera route below /api: /api/auth/*, /api/oauth/*, /api/.well-known/*. Paths below /api where
// Tessera has no route (and no more specific route of the app matched) get the app's own 404.
import { toNextHandlers } from '@tessera/server/next';
import { notFound } from 'next/navigation';
import { tessera } from '../../../lib/tessera.ts';

export const { GET, HEAD, POST, PATCH, DELETE, OPTIONS } = toNextHandlers(
  async () => (await tessera()).handler,
  { notFound: () => notFound() },
);
