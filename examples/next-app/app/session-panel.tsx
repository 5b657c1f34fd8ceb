'use client';

import { createTesseraClient, type TesseraClient, TesseraClientError } from '@tessera/client';
import { type FormEvent, useEffect, useRef, useState } from 'react';

type View = 'loading' | 'signed-out' | 'signed-in';

/** Sign-in form, silent renewal, calls to the app's protected route handler and server component, logout. */
export function SessionPanel() {
  const client = useRef<TesseraClient | null>(null);
  const [view, setView] = useState<View>('loading');
  const [renewals, setRenewals] = useState(0);
  const [message, setMessage] = useState('');
  const [orders, setOrders] = useState('');
  const [account, setAccount] = useState('');

  useEffect(() => {
    // Same origin, cookie transport: the client sends Tessera-Transport: cookie with credentials.
    const tessera = createTesseraClient({ baseUrl: '/api' });
    client.current = tessera;
    tessera.on('tokenRenewed', () => setRenewals((n) => n + 1));
    tessera.on('sessionEnded', ({ reason }) => {
      setView('signed-out');
      setMessage(`Your session ended (${reason}).`);
    });
    tessera.resume().then(
      (resumed) => setView(resumed ? 'signed-in' : 'signed-out'),
      () => setView('signed-out'),
    );
    return () => tessera.close();
  }, []);

  async function signIn(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const submitter = (event.nativeEvent as SubmitEvent).submitter as HTMLButtonElement | null;
    const email = String(form.get('email'));
    const password = String(form.get('password'));
    try {
      if (submitter?.value === 'register') await client.current?.register(email, password);
      else await client.current?.login(email, password);
      setMessage('');
      setView('signed-in');
    } catch (error) {
      setMessage(error instanceof TesseraClientError ? `${error.code}: ${error.message}` : String(error));
    }
  }

  async function loadOrders() {
    const response = await client.current?.fetch('/api/orders');
    if (response) setOrders(`${response.status} ${await response.text()}`);
  }

  async function loadAccount() {
    // The server component reads the bearer token this request carries.
    const response = await client.current?.fetch('/account');
    if (!response) return;
    const page = new DOMParser().parseFromString(await response.text(), 'text/html');
    const email = page.querySelector('#account-email')?.textContent ?? 'signed out';
    setAccount(`${response.status} ${email}`);
  }

  async function logout() {
    await client.current?.logout();
    setView('signed-out');
    setMessage('Signed out.');
  }

  return (
    <section>
      <p id="status" data-view={view}>
        {view}
      </p>
      <p id="message">{message}</p>
      {view === 'signed-out' && (
        <form id="sign-in" onSubmit={signIn}>
          <input name="email" type="email" placeholder="email" required />
          <input name="password" type="password" placeholder="password" required />
          <button type="submit" name="action" value="login">
            Sign in
          </button>
          <button type="submit" name="action" value="register">
            Register
          </button>
        </form>
      )}
      {view === 'signed-in' && (
        <div>
          <p>
            Renewals: <span id="renewals">{renewals}</span>
          </p>
          <button id="call-orders" type="button" onClick={loadOrders}>
            Call /api/orders
          </button>
          <pre id="orders-result">{orders}</pre>
          <button id="load-account" type="button" onClick={loadAccount}>
            Load /account (server component)
          </button>
          <p id="account-result">{account}</p>
          <button id="logout" type="button" onClick={logout}>
            Log out
          </button>
        </div>
      )}
    </section>
  );
}
