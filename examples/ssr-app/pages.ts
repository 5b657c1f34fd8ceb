// The HTML of the server-rendered example: plain templates, every value escaped.
import type { SessionView } from '@tessera/core';

/** Escapes text for HTML content and double-quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A same-site path to return to after signing in: a relative path only (never another site). */
export function safeNext(value: unknown): string {
  return typeof value === 'string' && /^\/(?![/\\])[^\s]*$/.test(value) ? value : '/account';
}

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · Tessera SSR example</title>
<script type="module" src="/ssr.js"></script>
</head>
<body>
<header><a href="/">Tessera SSR example</a></header>
<main>
${body}
</main>
</body>
</html>
`;
}

/** `/`: public. */
export function homePage(): string {
  return layout(
    'Home',
    `<h1>Server-rendered pages with Tessera</h1>
<p>The access token lives in an HttpOnly cookie; every page is rendered on the server.</p>
<p><a href="/account">Your account</a> · <a href="/login">Sign in</a></p>`,
  );
}

/** `/login`: the sign-in and sign-up form (sent by `/ssr.js` as JSON to Tessera's routes). */
export function loginPage(next: string): string {
  return layout(
    'Sign in',
    `<h1>Sign in</h1>
<form id="login" method="post" action="/login" data-next="${escapeHtml(next)}">
  <label>Email <input name="email" type="email" autocomplete="username" required></label>
  <label>Password <input name="password" type="password" autocomplete="current-password" minlength="8" required></label>
  <button type="submit" name="action" value="login">Sign in</button>
  <button type="submit" name="action" value="register">Create account</button>
  <p id="error" role="alert" hidden></p>
</form>
<noscript><p>This example signs in with a few lines of script (<code>/ssr.js</code>).</p></noscript>`,
  );
}

/** `/refresh`: the page that renews an expired access cookie from the refresh cookie, then goes back. */
export function refreshPage(next: string): string {
  return layout(
    'One moment',
    `<p id="refresh" data-next="${escapeHtml(next)}">Signing you back in…</p>
<noscript><p><a href="/login?next=${encodeURIComponent(next)}">Sign in</a></p></noscript>`,
  );
}

/** `/account`: needs a session. */
export function accountPage(view: {
  email: string;
  roles: string[];
  sessions: SessionView[];
  notes: string[];
}): string {
  const sessions = view.sessions
    .map(
      (s) =>
        `<li>${escapeHtml(s.deviceName ?? 'Unknown device')}${s.current ? ' <strong>(this device)</strong>' : ''}, since ${escapeHtml(s.createdAt.toISOString())}</li>`,
    )
    .join('\n');
  const notes = view.notes.map((note) => `<li>${escapeHtml(note)}</li>`).join('\n');
  return layout(
    'Your account',
    `<h1>Your account</h1>
<p id="who">Signed in as <strong>${escapeHtml(view.email)}</strong>${view.roles.length ? ` (${escapeHtml(view.roles.join(', '))})` : ''}.</p>
<h2>Your devices</h2>
<ul id="sessions">
${sessions}
</ul>
<h2>Notes</h2>
<ul id="notes">
${notes}
</ul>
<form method="post" action="/notes">
  <label>New note <input name="note" required maxlength="200"></label>
  <button type="submit">Add</button>
</form>
<button id="logout" type="button">Log out</button>`,
  );
}
