// Swagger UI over the generated OpenAPI document; "Try it out" sends the browser's session cookie.
window.ui = SwaggerUIBundle({
  url: '/api/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  withCredentials: true,
});
