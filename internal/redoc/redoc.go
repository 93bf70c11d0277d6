// Package redoc serves an OpenAPI document as a Redoc page, as Walrus's services do at
// /v1/api: the page, the vendored Redoc bundle (assets/README.md), a small start-up script and
// the document, all from the server itself, so the page needs no CDN and works offline.
package redoc

import (
	_ "embed"
	"html"
	"io"
	"net/http"
)

// Paths under a base (Walrus's is /v1/api): the page is the base itself.
const (
	SpecPath = "/openapi.json"
	JSPath   = "/redoc.standalone.js"
	InitPath = "/redoc-init.js"
)

//go:embed assets/redoc.standalone.js
var bundle []byte

// BundleSize is the size of the vendored bundle in bytes.
func BundleSize() int { return len(bundle) }

// Policy is the page's Content-Security-Policy: nothing from any other origin.
const Policy = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Docs is one API page: Title heads the page; Base is where it is served (the document, the
// bundle and the start-up script are under it); Spec is the OpenAPI document (JSON).
type Docs struct {
	Title string
	Base  string
	Spec  []byte
}

// Paths returns the four paths Docs serves: the page, the document, the bundle, the script.
func (d *Docs) Paths() []string {
	return []string{d.Base, d.Base + SpecPath, d.Base + JSPath, d.Base + InitPath}
}

// ServeHTTP serves the path of r among Paths (404 for any other).
func (d *Docs) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	switch r.URL.Path {
	case d.Base:
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", Policy)
		io.WriteString(w, d.page())
	case d.Base + SpecPath:
		h.Set("Content-Type", "application/json")
		w.Write(d.Spec)
	case d.Base + JSPath:
		h.Set("Content-Type", "text/javascript; charset=utf-8")
		h.Set("Cache-Control", "public, max-age=86400")
		w.Write(bundle)
	case d.Base + InitPath:
		// A file, not an inline script, so that the policy can forbid inline scripts.
		h.Set("Content-Type", "text/javascript; charset=utf-8")
		io.WriteString(w, `Redoc.init("`+d.Base+SpecPath+`", {hideDownloadButton: false}, document.getElementById("redoc-container"));`+"\n")
	default:
		http.NotFound(w, r)
	}
}

func (d *Docs) page() string {
	return `<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>` + html.EscapeString(d.Title) + `</title>
<style>body { margin: 0; padding: 0; }</style>
</head>
<body>
<div id="redoc-container"></div>
<script src="` + d.Base + JSPath + `"></script>
<script src="` + d.Base + InitPath + `"></script>
</body>
</html>
`
}
