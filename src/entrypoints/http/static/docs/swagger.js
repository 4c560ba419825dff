// The API docs' viewer: the vendored Swagger UI, set up from a file (the pages' CSP
// allows no inline script). The OpenAPI document's address is on the mount point.
const root = document.getElementById("swagger-ui");
window.ui = window.SwaggerUIBundle({
  url: root.dataset.specUrl,
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null, // no badge fetched from another host
  presets: [window.SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
