import { headers } from 'next/headers';
import { tessera } from '../../lib/tessera.ts';

// A server component that reads the session with requireSession's web core, from the request's
// Authorization header. A plain navigation carries no token (the refresh cookie stays on /api/auth),
// so the page shows the signed-out view; the client fetches it with the token (`client.fetch('/account')`).
/** `/account`: the signed-in user's account, or the signed-out view (401). */
export default async function AccountPage() {
  const { session } = await tessera();
  const auth = await session(new Request('http://localhost/account', { headers: await headers() }));
  if (auth instanceof Response) {
    return (
      <main>
        <p id="account-status" data-status={auth.status}>
          Not signed in.
        </p>
      </main>
    );
  }
  return (
    <main>
      <h1>Account</h1>
      <dl id="account" data-status="200">
        <dt>Email</dt>
        <dd id="account-email">{auth.user.email}</dd>
        <dt>Session</dt>
        <dd id="account-session">{auth.session.id}</dd>
        <dt>Signed in</dt>
        <dd>{auth.session.createdAt.toISOString()}</dd>
      </dl>
    </main>
  );
}
