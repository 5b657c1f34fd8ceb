import { SessionPanel } from './session-panel.tsx';

/** The home page: what the example shows, and the session panel. */
export default function Home() {
  return (
    <main>
      <h1>Tessera in a Next.js app</h1>
      <p>
        The access token lives in this page&apos;s memory and renews itself; the refresh token stays in an
        HttpOnly cookie scoped to <code>/api/auth</code>.
      </p>
      <SessionPanel />
    </main>
  );
}
