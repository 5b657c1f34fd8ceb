// The only script of the server-rendered example. It talks to Tessera's routes with cookie transport
// and asks for the access token as an HttpOnly cookie, so no token ever reaches this script.
const TESSERA = '/api/auth';
const HEADERS = {
  'content-type': 'application/json',
  'tessera-transport': 'cookie',
  'tessera-access-cookie': '1',
};

function post(path, body) {
  return fetch(`${TESSERA}${path}`, {
    method: 'POST',
    headers: HEADERS,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

// Sign in or create an account, then go where the user was heading.
const form = document.getElementById('login');
if (form) {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const route = event.submitter?.value === 'register' ? '/register' : '/login';
    const response = await post(route, { email: data.get('email'), password: data.get('password') });
    if (response.ok) {
      sessionStorage.removeItem('tessera-refreshed-at');
      location.assign(form.dataset.next || '/account');
      return;
    }
    const error = document.getElementById('error');
    error.textContent = (await response.json().catch(() => ({}))).error_description ?? 'Sign-in failed.';
    error.hidden = false;
  });
}

// The access cookie expired: renew it from the refresh cookie (a silent refresh), then go back. Once per
// few seconds at most, so a browser that refuses the cookie cannot loop.
const refresh = document.getElementById('refresh');
if (refresh) {
  const next = refresh.dataset.next || '/account';
  const last = Number(sessionStorage.getItem('tessera-refreshed-at') ?? 0);
  const renewed = Date.now() - last > 5000 && (await post('/refresh')).ok;
  if (renewed) {
    sessionStorage.setItem('tessera-refreshed-at', String(Date.now()));
    location.replace(next);
  } else {
    location.replace(`/login?next=${encodeURIComponent(next)}`);
  }
}

// Log out: Tessera ends the session and clears both cookies.
document.getElementById('logout')?.addEventListener('click', async () => {
  await post('/logout');
  sessionStorage.removeItem('tessera-refreshed-at');
  location.assign('/login');
});
