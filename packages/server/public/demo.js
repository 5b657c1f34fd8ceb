// Tessera demo page script: cookie transport, access token in memory only, silent renewal at 80 % of
// its life, device list, password and profile changes. Plain browser JavaScript, no dependencies.

(() => {
  const $ = (selector) => document.querySelector(selector);
  const state = { access: null, lifeMs: 0, receivedAt: 0, timer: null, refreshing: null };

  function show(text, kind = 'ok') {
    const box = $('#message');
    box.textContent = text;
    box.className = text ? kind : '';
  }

  function errorText(result) {
    return (
      (result.data && (result.data.error_description || result.data.error)) ||
      `Request failed (${result.status}).`
    );
  }

  async function send(method, path, body, token) {
    const headers = { 'tessera-transport': 'cookie' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (token) headers.authorization = `Bearer ${token}`;
    const response = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    return { status: response.status, ok: response.ok, data, headers: response.headers };
  }

  /** Calls a bearer route; on 401 invalid_token refreshes once and retries once, never more. */
  async function api(method, path, body) {
    let result = await send(method, path, body, state.access);
    const challenge = result.headers.get('www-authenticate') || '';
    if (result.status === 401 && challenge.includes('error="invalid_token"') && (await refresh('retry'))) {
      result = await send(method, path, body, state.access);
    }
    return result;
  }

  function adopt(tokens, why) {
    state.access = tokens.access_token;
    state.lifeMs = tokens.expires_in * 1000;
    state.receivedAt = performance.now();
    clearTimeout(state.timer);
    // Renew at 80 % of the life the server stated, measured on this page's monotonic clock.
    state.timer = setTimeout(() => refresh('renewal'), state.lifeMs * 0.8);
    if (why === 'renewal' || why === 'retry') {
      const item = document.createElement('li');
      item.textContent = `${new Date().toLocaleTimeString()} — new access token (${why === 'retry' ? 'after a 401' : 'scheduled'})`;
      $('#renewals').prepend(item);
    }
    tick();
  }

  /** One refresh at a time: concurrent callers share it. Resolves true when a new token arrived. */
  function refresh(why) {
    state.refreshing ??= (async () => {
      try {
        const result = await send('POST', '/auth/refresh');
        if (result.ok) {
          adopt(result.data, why);
          return true;
        }
        if (why !== 'resume') signedOut(`Your session ended: ${errorText(result)}`, 'error');
        return false;
      } catch {
        if (why !== 'resume') show('The server is unreachable; retrying when you act again.', 'error');
        return false;
      } finally {
        state.refreshing = null;
      }
    })();
    return state.refreshing;
  }

  function tick() {
    if (!state.access) return;
    const left = Math.max(0, state.receivedAt + state.lifeMs - performance.now());
    const seconds = Math.ceil(left / 1000);
    $('#countdown').textContent = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
    $('#life').value = state.lifeMs ? Math.round((100 * left) / state.lifeMs) : 0;
  }

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
    state.access = null;
    clearTimeout(state.timer);
    $('#signed-in').hidden = true;
    $('#signed-out').hidden = false;
    $('#renewals').replaceChildren();
    show(text, kind);
  }

  async function loadSessions() {
    const result = await api('GET', '/auth/sessions');
    if (!result.ok) return;
    const list = $('#sessions');
    list.replaceChildren(
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
          if (!ended.ok) return show(errorText(ended), 'error');
          if (session.current) return signedOut('You ended this device’s session.');
          show('Session ended.');
          await loadSessions();
        });
        item.append(info, end);
        return item;
      }),
    );
  }

  function formValues(form) {
    return Object.fromEntries(new FormData(form).entries());
  }

  function onSubmit(selector, handler) {
    $(selector).addEventListener('submit', async (event) => {
      event.preventDefault();
      const button = event.target.querySelector('button');
      button.disabled = true;
      try {
        await handler(event.target);
      } finally {
        button.disabled = false;
      }
    });
  }

  async function startSession(path, form) {
    const values = formValues(form);
    const body = { email: values.email, password: values.password };
    if (values.device_name) body.device_name = values.device_name;
    const result = await send('POST', path, body);
    if (!result.ok) return show(errorText(result), 'error');
    form.reset();
    adopt(result.data, 'login');
    show(path.endsWith('register') ? 'Welcome! Your account is ready.' : 'Signed in.');
    await signedIn();
  }

  onSubmit('#login-form', (form) => startSession('/auth/login', form));
  onSubmit('#register-form', (form) => startSession('/auth/register', form));

  onSubmit('#password-form', async (form) => {
    const result = await api('POST', '/auth/password', formValues(form));
    if (!result.ok) return show(errorText(result), 'error');
    form.reset();
    adopt(result.data, 'login');
    show('Password changed. Your other devices were signed out.');
    await loadSessions();
  });

  onSubmit('#profile-form', async (form) => {
    const values = formValues(form);
    const patch = { name: values.name.trim() || null, phone_number: values.phone_number.trim() || null };
    const result = await api('PATCH', '/auth/me', patch);
    if (!result.ok) return show(errorText(result), 'error');
    if (result.data.access_token) adopt(result.data, 'login');
    $('#api-result').textContent = JSON.stringify(result.data, null, 2);
    show('Profile saved; the new access token already carries it.');
  });

  $('#call-api').addEventListener('click', async () => {
    const result = await api('GET', '/auth/me');
    $('#api-result').textContent = `${result.status}\n${JSON.stringify(result.data, null, 2)}`;
  });

  $('#logout').addEventListener('click', async () => {
    await send('POST', '/auth/logout');
    signedOut('You logged out.');
  });

  $('#logout-all').addEventListener('click', async () => {
    const result = await api('POST', '/auth/logout-all');
    signedOut(
      result.ok ? 'Every session of yours has ended.' : errorText(result),
      result.ok ? 'ok' : 'error',
    );
  });

  // A tab woken from sleep may hold an expired token: renew before the user acts.
  document.addEventListener('visibilitychange', () => {
    if (
      document.visibilityState === 'visible' &&
      state.access &&
      performance.now() > state.receivedAt + state.lifeMs * 0.8
    ) {
      refresh('renewal');
    }
  });

  setInterval(tick, 1000);
  refresh('resume').then((ok) => (ok ? signedIn() : signedOut('')));
})();
