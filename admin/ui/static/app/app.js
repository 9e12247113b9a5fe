// The admin shell: signs in with the session cookie (HttpOnly, so the token never touches script) and
// shows who is signed in and whether the platform is ready.
const $ = (id) => document.getElementById(id);

// The CSRF token the server set at login (a readable cookie); every change made with the session cookie
// must echo it in the X-CSRF-Token header.
function csrfToken() {
  const m = document.cookie.match(/(?:^|;\s*)rapport_csrf=([^;]*)/);
  return m ? decodeURIComponent(m[1]) : '';
}

async function api(path, options = {}) {
  const headers = { 'Content-Type': 'application/json' };
  if (options.method && options.method !== 'GET') headers['X-CSRF-Token'] = csrfToken();
  const res = await fetch(path, { credentials: 'same-origin', headers, ...options });
  const body = res.status === 204 ? null : await res.json().catch(() => null);
  return { res, body };
}

async function showHome(user) {
  $('login').hidden = true;
  $('home').hidden = false;
  $('user-name').textContent = user.name || user.email;
  $('user-email').textContent = user.email;
  $('user-roles').textContent = (user.roles || []).join(', ') || 'no roles';
  const { body } = await api('/readyz');
  const list = $('status');
  list.replaceChildren();
  for (const [name, check] of Object.entries((body && body.checks) || {})) {
    const li = document.createElement('li');
    li.className = check.ok ? 'ok' : 'bad';
    li.textContent = `${name}: ${check.ok ? 'ok' : check.error}`;
    list.append(li);
  }
}

function showLogin() {
  $('home').hidden = true;
  $('login').hidden = false;
}

$('login-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const { res, body } = await api('/api/v1/auth/login', {
    method: 'POST',
    body: JSON.stringify({ email: form.get('email'), password: form.get('password') }),
  });
  if (!res.ok) {
    $('login-error').textContent = (body && body.detail) || `Sign-in failed (${res.status})`;
    return;
  }
  $('login-error').textContent = '';
  showHome(body.user);
});

$('logout').addEventListener('click', async () => {
  await api('/api/v1/auth/logout', { method: 'POST' });
  showLogin();
});

(async () => {
  const { res, body } = await api('/api/v1/auth/me');
  if (res.ok) showHome(body); else showLogin();
})();
