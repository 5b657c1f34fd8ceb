// Tessera demo page script, built on @tessera/client (served as /tessera-client.js): cookie transport,
// the access token in the client's memory only, silent renewal, one refresh across tabs, and a logout
// that reaches every tab. Plain browser JavaScript (ES modules), no other dependencies.

import { setUpAccount } from '/demo-account.js';
import { createTesseraClient } from '/tessera-client.js';

const $ = (selector) => document.querySelector(selector);
const client = createTesseraClient({ baseUrl: '' });
let lifeMs = 0;
// The last access token this page held: the resource service card calls with it after a sign-out.
let lastToken = null;
let endingEverywhere = false;
// For browser tests and the curious: the client this page runs on.
window.tesseraDemo = { client };

// How often the device list is read again while the page is visible.
const SESSIONS_POLL_MS = 3000;
// Set while this browser may hold a session: an anonymous visit then skips the silent refresh, which
// would answer 400 (no refresh cookie) and log an error in the console. The refresh cookie is HttpOnly,
// so script cannot see it; this hint is the page's own note, never a credential.
const SESSION_HINT = 'tessera-demo:may-have-session';
const WELCOME_DISMISSED = 'tessera-demo:welcome-dismissed';

const REASONS = {
  logout: 'You logged out.',
  revoked: 'Your session was ended (from another device, a password change or an administrator).',
  reuse_detected: 'Your session was ended because a refresh token was used twice (possible theft).',
  expired: 'Your session expired; please log in again.',
};

function remember(key, value) {
  try {
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, value);
  } catch {
    // Storage may be off (private mode settings); the page still works, with the silent refresh.
  }
}

function recalled(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return '1';
  }
}

function show(text, kind = 'ok') {
  const box = $('#message');
  box.textContent = text;
  box.className = text ? kind : '';
}

async function readJson(response) {
  const text = await response.text();
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

function errorText(status, data) {
  return (data && (data.error_description || data.error)) || `Request failed (${status}).`;
}

/** A call to a Tessera route through the client (bearer token, one retry after an expired token). */
async function api(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: { 'tessera-transport': 'cookie' } };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await client.fetch(path, init);
  return { status: response.status, ok: response.ok, data: await readJson(response) };
}

/** The claims of the current access token (read for display only; the servers verify it). */
async function tokenClaims() {
  const token = await client.getAccessToken();
  if (!token) return null;
  lastToken = token;
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(part));
  } catch {
    return null;
  }
}

function tick() {
  const { signedIn, expiresAt } = client.state();
  if (!signedIn || expiresAt === null) return;
  const left = Math.max(0, expiresAt - performance.now());
  const seconds = Math.ceil(left / 1000);
  $('#countdown').textContent = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
  $('#life').value = lifeMs ? Math.round((100 * left) / lifeMs) : 0;
}

const account = setUpAccount({
  $,
  api,
  client,
  show,
  errorText,
  readJson,
  onSubmit,
  onSignedIn: () => signedIn(),
});

client.on('signedIn', ({ expiresIn }) => {
  lifeMs = expiresIn * 1000;
  remember(SESSION_HINT, '1');
});
client.on('tokenRenewed', ({ expiresIn }) => {
  lifeMs = expiresIn * 1000;
  remember(SESSION_HINT, '1');
  const item = document.createElement('li');
  item.textContent = `${new Date().toLocaleTimeString()} — new access token, silently`;
  $('#renewals').prepend(item);
  // Another tab signed in (its token arrived by broadcast): show this one signed in too.
  if ($('#signed-in').hidden) signedIn().catch(() => undefined);
  // The resource service sees each new token, so it can time the revocation of any of them.
  else callResource().catch(() => undefined);
});
client.on('sessionEnded', ({ reason }) => {
  remember(SESSION_HINT, null);
  const everywhere = endingEverywhere && reason === 'logout';
  endingEverywhere = false;
  signedOut(
    everywhere ? 'You logged out on every device.' : (REASONS[reason] ?? 'Your session ended.'),
    reason === 'logout' ? 'ok' : 'error',
  );
});
client.on('stepUpRequired', () => account.askToReauthenticate());

async function signedIn() {
  $('#signed-out').hidden = true;
  $('#reset-form').hidden = true;
  $('#signed-in').hidden = false;
  const [me, claims] = await Promise.all([api('GET', '/auth/me'), tokenClaims()]);
  if (me.ok) {
    $('#who').textContent = me.data.email;
    $('#profile-form').elements.name.value = me.data.name || '';
    $('#profile-form').elements.phone_number.value = me.data.phone_number || '';
  }
  const verified = claims?.email_verified === true;
  $('#verified').textContent = verified ? 'email verified' : 'email not verified';
  $('#verified').classList.toggle('warn', !verified);
  $('#verify-request').hidden = verified || !account.inboxOn();
  await Promise.all([loadSessions(), account.loadTwoFactor(), callResource().catch(() => undefined)]);
}

function signedOut(text, kind = 'ok') {
  $('#signed-in').hidden = true;
  $('#signed-out').hidden = false;
  $('#renewals').replaceChildren();
  $('#sessions').replaceChildren();
  account.reset();
  show(text, kind);
}

async function loadSessions() {
  if (!client.state().signedIn) return;
  const result = await api('GET', '/auth/sessions');
  if (!result.ok) return;
  $('#sessions-updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
  $('#sessions').replaceChildren(
    ...result.data.sessions.map((session) => {
      const item = document.createElement('li');
      item.dataset.sessionId = session.id;
      const info = document.createElement('div');
      const name = document.createElement('strong');
      name.textContent = session.device_name || 'Unknown device';
      info.append(name);
      if (session.current) {
        const badge = document.createElement('span');
        badge.className = 'badge';
        badge.textContent = 'this device';
        info.append(badge);
      }
      const meta = document.createElement('div');
      meta.className = 'meta';
      meta.textContent = `${session.ip || 'unknown IP'} · signed in ${new Date(session.created_at).toLocaleString()} · last seen ${new Date(session.last_seen_at).toLocaleString()}`;
      info.append(meta);
      const end = document.createElement('button');
      end.type = 'button';
      end.className = 'end-session secondary';
      end.textContent = 'End';
      end.addEventListener('click', async () => {
        const ended = await api('DELETE', `/auth/sessions/${encodeURIComponent(session.id)}`);
        if (!ended.ok) return show(errorText(ended.status, ended.data), 'error');
        if (session.current) return client.logout();
        show('Session ended.');
        await loadSessions();
      });
      item.append(info, end);
      return item;
    }),
  );
}

// The device list follows other devices by itself: read again on an interval while the page is
// visible, and at once when it comes back into view. A session ended elsewhere (this one included)
// shows at the next read: the client learns it from the refused token and refresh.
function refreshSessionsSoon() {
  if (document.visibilityState === 'visible' && client.state().signedIn)
    loadSessions().catch(() => undefined);
}
setInterval(refreshSessionsSoon, SESSIONS_POLL_MS);
document.addEventListener('visibilitychange', refreshSessionsSoon);
window.addEventListener('focus', refreshSessionsSoon);

function onSubmit(selector, handler) {
  $(selector).addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = event.target;
    const button = form.querySelector('button');
    button.disabled = true;
    try {
      await handler(form, Object.fromEntries(new FormData(form).entries()));
    } catch (error) {
      show(error.message || 'Something went wrong.', 'error');
    } finally {
      button.disabled = false;
    }
  });
}

async function startSession(action, form, values) {
  const extra = values.device_name ? { device_name: values.device_name } : {};
  const code = (values.code || '').trim();
  if (code) extra[/^\d{6}$/.test(code) ? 'totp' : 'recovery_code'] = code;
  try {
    await client[action](values.email, values.password, extra);
  } catch (error) {
    if (error.code === 'totp_required') {
      $('#second-factor').hidden = false;
      form.elements.code?.focus();
      return show(
        'This account has two-factor sign-in: enter the code from your app, or a recovery code.',
        'error',
      );
    }
    throw error;
  }
  form.reset();
  $('#second-factor').hidden = true;
  show(action === 'register' ? 'Your account is ready.' : 'Signed in.');
  await signedIn();
}

onSubmit('#login-form', (form, values) => startSession('login', form, values));
onSubmit('#register-form', (form, values) => startSession('register', form, values));

onSubmit('#password-form', async (form, values) => {
  const result = await api('POST', '/auth/password', values);
  if (!result.ok) return show(errorText(result.status, result.data), 'error');
  form.reset();
  // The answer set a new refresh cookie; take a token of the new version through the client.
  await client.refresh();
  show('Password changed. Your other devices were signed out.');
  await loadSessions();
});

onSubmit('#profile-form', async (_form, values) => {
  const patch = { name: values.name.trim() || null, phone_number: values.phone_number.trim() || null };
  const result = await api('PATCH', '/auth/me', patch);
  if (!result.ok) return show(errorText(result.status, result.data), 'error');
  $('#profile-result').textContent = JSON.stringify(result.data, null, 2);
  $('#profile-result').hidden = false;
  await client.refresh();
  show('Profile saved; the new access token already carries it.');
});

/** Calls the resource service with the current access token, or after a sign-out the last one held. */
async function callResource() {
  const token = client.state().signedIn ? await client.getAccessToken() : null;
  if (token) lastToken = token;
  const used = token ?? lastToken;
  const response = await fetch('/demo/api/resource', {
    headers: used ? { authorization: `Bearer ${used}` } : {},
  });
  const data = await readJson(response);
  const status = $('#resource-status');
  if (response.ok) {
    status.textContent = `Accepted (${response.status}): verified locally by ${data.verified_by}.`;
    status.className = 'ok';
  } else {
    const lag =
      typeof data?.revocation_lag_ms === 'number'
        ? ` The revocation reached the resource service ${data.revocation_lag_ms} ms after it happened (the feed's lag).`
        : '';
    status.textContent = `Refused (${response.status}): ${errorText(response.status, data)}${lag}`;
    status.className = 'error';
  }
  $('#api-result').textContent = `${response.status}\n${JSON.stringify(data, null, 2)}`;
}

$('#call-api').addEventListener('click', () =>
  callResource().catch((error) => show(error.message || 'The resource service did not answer.', 'error')),
);
$('#logout').addEventListener('click', () => client.logout());
$('#logout-all').addEventListener('click', () => {
  endingEverywhere = true;
  client.logoutAll();
});

// The welcome banner, until it is dismissed (remembered in this browser).
$('#welcome').hidden = recalled(WELCOME_DISMISSED) === '1';
$('#welcome-dismiss').addEventListener('click', () => {
  remember(WELCOME_DISMISSED, '1');
  $('#welcome').hidden = true;
});

setInterval(tick, 1000);
account.start();
if (recalled(SESSION_HINT) === '1') {
  client.resume().then((ok) => {
    if (!ok) remember(SESSION_HINT, null);
    return ok ? signedIn() : signedOut('');
  });
} else {
  signedOut('');
}
