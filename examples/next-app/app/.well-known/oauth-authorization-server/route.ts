// RFC 8414 §3: the metadata at the server root too, which the /api catch-all never receives.
import { toNextHandlers } from '@tessera/server/next';
import { tessera } from '../../../lib/tessera.ts';

export const { GET, HEAD } = toNextHandlers(async () => (await tessera()).handler);
