// The demo page's account flows: the webhook inbox (standing in for email), password reset, email
// verification, magic-link sign-in, and two-factor sign-in (TOTP enrolment, recovery codes, disabling).
// Plain browser JavaScript, no dependencies; demo.js passes in what it shares.

// How often the inbox is read again while the page is visible.
const INBOX_POLL_MS = 2000;

// Events whose token the page can redeem: the link each opens (a URL fragment, never sent to a server).
const LINKS = {
  'password_reset.requested': ['reset-token', 'Open reset link'],
  'email_verification.requested': ['verify-email', 'Open verification link'],
  'magic_link.requested': ['magic-link', 'Open sign-in link'],
};

/** Wires the account flows into the page; returns what demo.js calls. */
export function setUpAccount({ $, api, client, show, errorText, readJson, onSubmit, onSignedIn }) {
  let inboxOn = true;
  let inboxShown = null;
  let inboxTimer = null;

  async function post(path, body, extra = {}) {
    const response = await fetch(path, {
      method: 'POST',
      credentials: 'same-origin',
      ...extra,
      headers: { 'content-type': 'application/json', ...extra.headers },
      body: JSON.stringify(body),
    });
    return { status: response.status, ok: response.ok, data: await readJson(response) };
  }

  function describe(event) {
    const d = event.data || {};
    const parts = [];
    if (d.email) parts.push(`to ${d.email}`);
    if (d.device_name) parts.push(`device “${d.device_name}”`);
    if (d.new_device) parts.push('new device');
    if (d.reason) parts.push(`reason: ${d.reason}`);
    if (d.via) parts.push(`via ${d.via}`);
    return parts.join(' · ');
  }

  function renderInbox(events) {
    const key = events.map((event) => event.id).join(' ');
    if (key === inboxShown) return;
    inboxShown = key;
    $('#inbox-note').textContent = events.length ? '' : 'No events yet. Register, or ask for a reset link.';
    $('#inbox-events').replaceChildren(
      ...events.map((event) => {
        const item = document.createElement('li');
        item.dataset.type = event.type;
        const title = document.createElement('strong');
        title.textContent = event.type;
        const meta = document.createElement('span');
        meta.className = 'meta';
        meta.textContent = ` ${new Date(event.timestamp).toLocaleTimeString()} ${describe(event)}`;
        item.append(title, meta);
        const link = LINKS[event.type];
        if (link && typeof event.data?.token === 'string') {
          const open = document.createElement('a');
          open.className = 'open-link';
          open.href = `#${link[0]}=${encodeURIComponent(event.data.token)}`;
          open.textContent = link[1];
          item.append(' ', open);
        }
        return item;
      }),
    );
  }

  async function loadInbox() {
    if (!inboxOn) return;
    const response = await fetch('/demo/inbox');
    const data = await readJson(response);
    if (response.ok) return renderInbox(data.events);
    if (response.status === 404 || response.status === 403) {
      inboxOn = false;
      clearInterval(inboxTimer);
      $('#inbox-note').textContent =
        response.status === 404
          ? 'The inbox is off: this server sends its webhook events to TESSERA_WEBHOOK_URL.'
          : errorText(response.status, data);
    }
  }

  const inboxSoon = () => {
    if (document.visibilityState === 'visible') loadInbox().catch(() => undefined);
  };

  /** Opens a link from the inbox: the fragment names the flow and carries the token. */
  async function openLink() {
    const match = /^#(reset-token|verify-email|magic-link)=([^&]+)$/.exec(window.location.hash);
    if (!match) return;
    // The token leaves the address bar (and the history) at once.
    history.replaceState(null, '', window.location.pathname);
    const [, kind, encoded] = match;
    const token = decodeURIComponent(encoded);
    if (kind === 'reset-token') {
      const form = $('#reset-form');
      form.elements.token.value = token;
      form.hidden = false;
      form.elements.new_password.focus();
      return show('Choose a new password.');
    }
    if (kind === 'verify-email') {
      const result = await post('/auth/email/verify', { token });
      if (!result.ok) return show(errorText(result.status, result.data), 'error');
      show(`Email verified: ${result.data.email}.`);
      // The next access token carries email_verified: take one now.
      if (client.state().signedIn && (await client.refresh())) await onSignedIn();
      return;
    }
    const result = await post(
      '/auth/magic-link/verify',
      { token },
      { headers: { 'tessera-transport': 'cookie' } },
    );
    if (!result.ok) return show(errorText(result.status, result.data), 'error');
    // The answer set the refresh cookie: the client takes the session from it.
    await client.refresh();
    show('Signed in with the link from the inbox.');
    await onSignedIn();
  }

  onSubmit('#forgot-form', async (form, values) => {
    const result = await post('/auth/password/forgot', { email: values.email });
    if (!result.ok) return show(errorText(result.status, result.data), 'error');
    form.reset();
    show('If an account uses that address, a reset link is on its way: see the inbox below.');
    setTimeout(inboxSoon, 300);
  });

  onSubmit('#magic-form', async (form, values) => {
    const result = await post('/auth/magic-link', { email: values.email });
    if (!result.ok) return show(errorText(result.status, result.data), 'error');
    form.reset();
    show('If an account uses that address, a sign-in link is on its way: see the inbox below.');
    setTimeout(inboxSoon, 300);
  });

  onSubmit('#reset-form', async (form, values) => {
    const result = await post('/auth/password/reset', {
      token: values.token,
      new_password: values.new_password,
    });
    if (!result.ok) return show(errorText(result.status, result.data), 'error');
    form.reset();
    form.hidden = true;
    show('Your password is set, and every session of the account was ended. Log in with the new password.');
  });

  $('#verify-request').addEventListener('click', async () => {
    const result = await api('POST', '/auth/email/verify/request', {});
    if (!result.ok) return show(errorText(result.status, result.data), 'error');
    show('Verification email sent: open the link in the inbox below.');
    setTimeout(inboxSoon, 300);
  });

  // Two-factor sign-in.
  function hideTwoFactorSteps() {
    $('#mfa-setup').hidden = true;
    $('#reauth-form').hidden = true;
    $('#totp-secret').textContent = '';
    $('#totp-uri').textContent = '';
  }

  async function loadTwoFactor() {
    const result = await api('GET', '/auth/mfa');
    if (!result.ok) return;
    const { enabled, recovery_codes_remaining: left } = result.data;
    $('#mfa-status').textContent = enabled
      ? `On: sign-in asks for a code from your authenticator app. ${left} recovery code${left === 1 ? '' : 's'} left.`
      : 'Off: sign-in asks for your password only.';
    $('#mfa-enroll').hidden = enabled || !$('#mfa-setup').hidden;
    $('#mfa-disable-form').hidden = !enabled;
  }

  $('#mfa-enroll').addEventListener('click', async () => {
    $('#recovery').hidden = true;
    const result = await api('POST', '/auth/mfa/totp/enroll', {});
    if (!result.ok) return show(errorText(result.status, result.data), 'error');
    $('#totp-secret').textContent = result.data.secret;
    $('#totp-uri').textContent = result.data.otpauth_uri;
    $('#mfa-setup').hidden = false;
    $('#mfa-enroll').hidden = true;
    show('Add the key to your authenticator app, then confirm with the code it shows.');
  });

  onSubmit('#mfa-confirm-form', async (form, values) => {
    const result = await api('POST', '/auth/mfa/totp/confirm', { code: values.code.trim() });
    if (!result.ok) return show(errorText(result.status, result.data), 'error');
    form.reset();
    hideTwoFactorSteps();
    $('#recovery-codes').replaceChildren(
      ...result.data.recovery_codes.map((code) => {
        const item = document.createElement('li');
        item.textContent = code;
        return item;
      }),
    );
    $('#recovery').hidden = false;
    show('Two-factor sign-in is on. Save your recovery codes: they are shown only this once.');
    await loadTwoFactor();
  });

  onSubmit('#mfa-disable-form', async (form, values) => {
    const result = await api('DELETE', '/auth/mfa/totp', { code: values.code.trim() });
    if (!result.ok) return show(errorText(result.status, result.data), 'error');
    form.reset();
    $('#recovery').hidden = true;
    $('#recovery-codes').replaceChildren();
    show('Two-factor sign-in is off.');
    await loadTwoFactor();
  });

  onSubmit('#reauth-form', async (form, values) => {
    const proof = { password: values.password, ...(values.totp ? { totp: values.totp.trim() } : {}) };
    await client.reauthenticate(proof);
    form.reset();
    form.hidden = true;
    show('Confirmed. Try the change again.');
  });

  return {
    inboxOn: () => inboxOn,
    loadTwoFactor,
    reset() {
      hideTwoFactorSteps();
      $('#recovery').hidden = true;
      $('#recovery-codes').replaceChildren();
    },
    askToReauthenticate() {
      $('#reauth-form').hidden = false;
      show('This change needs a recent sign-in: confirm your password below.', 'error');
    },
    start() {
      inboxTimer = setInterval(inboxSoon, INBOX_POLL_MS);
      document.addEventListener('visibilitychange', inboxSoon);
      inboxSoon();
      window.addEventListener('hashchange', () => openLink().catch((error) => show(error.message, 'error')));
      openLink().catch((error) => show(error.message, 'error'));
    },
  };
}
