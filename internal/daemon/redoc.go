package daemon

import (
	_ "embed"
	"io"
	"net/http"
)

// The API page at /v1/api is Redoc rendering the OpenAPI document, as Walrus's; the Redoc
// bundle is vendored (redoc/README.md) and served by the daemon itself, so the page needs no
// CDN and works offline.

// routeRedocJS serves the vendored bundle.
const routeRedocJS = "/v1/api/redoc.standalone.js"

//go:embed redoc/redoc.standalone.js
var redocJS []byte

// apiPage loads the bundle and the document from the daemon; its policy forbids every other
// origin (Redoc's footer logo from its CDN is not loaded).
const apiPage = `<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Floe publisher and aggregator API</title>
<style>body { margin: 0; padding: 0; }</style>
</head>
<body>
<div id="redoc-container"></div>
<script src="/v1/api/redoc.standalone.js"></script>
<script src="/v1/api/redoc-init.js"></script>
</body>
</html>
`

// redocInit starts Redoc on the document (a file, not an inline script, so that the page's
// policy can forbid inline scripts).
const redocInit = `Redoc.init("/v1/api/openapi.json", {hideDownloadButton: false}, document.getElementById("redoc-container"));
`

// apiPagePolicy is the page's Content-Security-Policy.
const apiPagePolicy = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// apiDocs serves the Redoc page (/v1/api).
func (s *Server) apiDocs(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", apiPagePolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	io.WriteString(w, apiPage)
}

func serveRedocJS(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=86400")
	h.Set("X-Content-Type-Options", "nosniff")
	if r.URL.Path == routeRedocInit {
		io.WriteString(w, redocInit)
		return
	}
	w.Write(redocJS)
}

// routeRedocInit serves redocInit.
const routeRedocInit = "/v1/api/redoc-init.js"
