// Tessera demo page script, built on @tessera/client (served as /tessera-client.js): cookie transport,
// the access token in the client's memory only, silent renewal, one refresh across tabs, and a logout
// that reaches every tab. Plain browser JavaScript (an ES module), no other dependencies.
import { createTesseraClient } from '/tessera-client.js';

const $ = (selector) => document.querySelector(selector);
const client = createTesseraClient({ baseUrl: '' });
let lifeMs = 0;
// For browser tests and the curious: the client this page runs on.
window.tesseraDemo = { client };

const REASONS = {
  logout: 'You logged out.',
  revoked: 'Your session was ended (from another device, a password change or an administrator).',
  reuse_detected: 'Your session was ended because a refresh token was used twice (possible theft).',
  expired: 'Your session expired; please log in again.',
};

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

function tick() {
  const { signedIn, expiresAt } = client.state();
  if (!signedIn || expiresAt === null) return;
  const left = Math.max(0, expiresAt - performance.now());
  const seconds = Math.ceil(left / 1000);
  $('#countdown').textContent = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
  $('#life').value = lifeMs ? Math.round((100 * left) / lifeMs) : 0;
}

client.on('signedIn', ({ expiresIn }) => {
  lifeMs = expiresIn * 1000;
});
client.on('tokenRenewed', ({ expiresIn }) => {
  lifeMs = expiresIn * 1000;
  const item = document.createElement('li');
  item.textContent = `${new Date().toLocaleTimeString()} — new access token, silently`;
  $('#renewals').prepend(item);
  // Another tab signed in (its token arrived by broadcast): show this one signed in too.
  if ($('#signed-in').hidden) signedIn().catch(() => undefined);
});
client.on('sessionEnded', ({ reason }) =>
  signedOut(REASONS[reason] ?? 'Your session ended.', reason === 'logout' ? 'ok' : 'error'),
);

async function signedIn() {
  $('#signed-out').hidden = true;
  $('#signed-in').hidden = false;
  const me = await api('GET', '/auth/me');
  if (me.ok) {
    $('#who').textContent = me.data.email;
    $('#profile-form').elements.name.value = me.data.name || '';
    $('#profile-form').elements.phone_number.value = me.data.phone_number || '';
  }
  await loadSessions();
}

function signedOut(text, kind = 'ok') {
  $('#signed-in').hidden = true;
  $('#signed-out').hidden = false;
  $('#renewals').replaceChildren();
  show(text, kind);
}

async function loadSessions() {
  const result = await api('GET', '/auth/sessions');
  if (!result.ok) return;
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
  await client[action](values.email, values.password, extra);
  form.reset();
  show(action === 'register' ? 'Welcome! Your account is ready.' : 'Signed in.');
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

onSubmit('#profile-form', async (form, values) => {
  const patch = { name: values.name.trim() || null, phone_number: values.phone_number.trim() || null };
  const result = await api('PATCH', '/auth/me', patch);
  if (!result.ok) return show(errorText(result.status, result.data), 'error');
  $('#api-result').textContent = JSON.stringify(result.data, null, 2);
  await client.refresh();
  show('Profile saved; the new access token already carries it.');
});

$('#call-api').addEventListener('click', async () => {
  const result = await api('GET', '/auth/me');
  $('#api-result').textContent = `${result.status}\n${JSON.stringify(result.data, null, 2)}`;
});
$('#logout').addEventListener('click', () => client.logout());
$('#logout-all').addEventListener('click', () => client.logoutAll());

setInterval(tick, 1000);
client.resume().then((ok) => (ok ? signedIn() : signedOut('')));
