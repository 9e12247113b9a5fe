// Swagger UI over the generated OpenAPI document. "Try it out" sends the browser's session cookie after a
// sign-in in the admin app; changes made that way must echo the session's CSRF token (double submit), so
// every request that is not a read carries the X-CSRF-Token header read from the rapport_csrf cookie.
// Without a session, "Authorize" takes a bearer token (POST /api/v1/auth/login, or an API token).
function csrfToken() {
  var m = document.cookie.match(/(?:^|;\s*)rapport_csrf=([^;]*)/);
  return m ? decodeURIComponent(m[1]) : '';
}

window.ui = SwaggerUIBundle({
  url: '/api/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  withCredentials: true,
  requestInterceptor: function (req) {
    var method = (req.method || 'GET').toUpperCase();
    var token = csrfToken();
    if (token && method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS') {
      req.headers = req.headers || {};
      req.headers['X-CSRF-Token'] = token;
    }
    return req;
  },
});

document.getElementById('auth-state').textContent = csrfToken()
  ? 'Signed in through the admin app: "Try it out" uses your session (with its CSRF token).'
  : 'Not signed in: sign in to the admin app at / first, or use "Authorize" with a bearer token from POST /api/v1/auth/login or an API token.';
