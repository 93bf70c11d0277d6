package daemon

import (
	"strings"
	"testing"

	api "github.com/floelabs/floe/api/daemon"
	"github.com/floelabs/floe/internal/protocol"
)

// A blob whose served type may be active (sniffed, mirrored from the request, or from its
// attributes) is sandboxed; every blob response varies on the request headers its type is
// mirrored from.
func TestContentPolicy(t *testing.T) {
	m := newMem()
	srv := newTestServer(t, m, nil)
	html := m.put([]byte("<!DOCTYPE html><html><script>alert(document.domain)</script></html>"))
	svg := m.put([]byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`))
	png := m.put(append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 100)...))
	text := m.put([]byte("just some text"))
	oid := protocol.ObjectID{7}
	m.objects[oid] = &Object{BlobID: text, Attributes: map[string]string{"content-type": "text/html"}}
	for _, tc := range []struct {
		name, method, path string
		hdr                map[string]string
		ctype              string
		sandbox            bool
	}{
		{"sniffed html", "GET", "/v1/blobs/" + html.String(), nil, "text/html; charset=utf-8", true},
		{"sniffed html, HEAD", "HEAD", "/v1/blobs/" + html.String(), nil, "text/html; charset=utf-8", true},
		{"sniffed html, range", "GET", "/v1/blobs/" + html.String(), map[string]string{"Range": "bytes=0-30"}, "text/html; charset=utf-8", true},
		{"sniffed html, byte-range", "GET", "/v1/blobs/" + html.String() + "/byte-range?start=0&length=40", nil, "text/html; charset=utf-8", true},
		{"sniffed xml", "GET", "/v1/blobs/" + svg.String(), nil, "text/xml; charset=utf-8", true},
		{"sniffed png", "GET", "/v1/blobs/" + png.String(), nil, "image/png", false},
		{"sniffed text", "GET", "/v1/blobs/" + text.String(), nil, "text/plain; charset=utf-8", false},
		{"mirrored Accept html", "GET", "/v1/blobs/" + png.String(), map[string]string{"Accept": "text/html"}, "text/html", true},
		{"mirrored Accept svg", "GET", "/v1/blobs/" + png.String(), map[string]string{"Accept": "image/svg+xml"}, "image/svg+xml", true},
		{"mirrored Accept list", "GET", "/v1/blobs/" + png.String(), map[string]string{"Accept": "image/png, text/html"}, "image/png, text/html", true},
		{"mirrored Content-Type js", "GET", "/v1/blobs/" + text.String(), map[string]string{"Content-Type": "text/javascript"}, "text/javascript", true},
		{"mirrored Accept image", "GET", "/v1/blobs/" + html.String(), map[string]string{"Accept": "image/webp"}, "image/webp", false},
		{"attribute html", "GET", "/v1/blobs/by-object-id/" + oid.String(), nil, "text/html", true},
	} {
		r := do(t, tc.method, srv.URL+tc.path, nil, tc.hdr)
		if r.code != 200 && r.code != 206 {
			t.Errorf("%s: %d %s", tc.name, r.code, r.body)
			continue
		}
		if got := r.hdr.Get("Content-Type"); got != tc.ctype {
			t.Errorf("%s: Content-Type %q, want %q", tc.name, got, tc.ctype)
		}
		if got := r.hdr.Get("Content-Security-Policy"); (got == "sandbox") != tc.sandbox || (got != "" && got != "sandbox") {
			t.Errorf("%s: Content-Security-Policy %q, sandbox wanted: %v", tc.name, got, tc.sandbox)
		}
		if got := r.hdr.Get("Vary"); got != "Accept, Content-Type" {
			t.Errorf("%s: Vary %q", tc.name, got)
		}
		if r.hdr.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", tc.name)
		}
	}
}

func TestPassiveType(t *testing.T) {
	for ct, want := range map[string]bool{
		"image/png": true, "image/jpeg": true, "video/mp4": true, "audio/ogg": true, "font/woff2": true,
		"text/plain; charset=utf-8": true, "application/octet-stream": true, "application/json": true, "application/pdf": true,
		"image/svg+xml": false, "text/html": false, "text/html; charset=utf-8": false, "application/xhtml+xml": false,
		"text/xml": false, "application/xml": false, "text/javascript": false, "application/javascript": false,
		"text/css": false, "application/x-floe": false, "": false, "image/png, text/html": false, "IMAGE/PNG": true,
		"multipart/x-mixed-replace; boundary=x": false, "application/rss+xml": false,
	} {
		if got := passiveType(ct); got != want {
			t.Errorf("passiveType(%q) = %v, want %v", ct, got, want)
		}
	}
}

// The aggregator allows any origin; the publisher only the configured ones.
func TestCORS(t *testing.T) {
	m := newMem()
	id := m.put([]byte("x"))
	preflight := func(url, origin, method string) result {
		return do(t, "OPTIONS", url, nil, map[string]string{"Origin": origin, "Access-Control-Request-Method": method,
			"Access-Control-Request-Headers": "authorization,content-type"})
	}

	srv := newTestServer(t, m, nil) // publisher and aggregator, default origins
	r := preflight(srv.URL+"/v1/blobs/"+id.String(), "https://any.example", "GET")
	if r.code != 200 || r.hdr.Get("Access-Control-Allow-Origin") != "*" || r.hdr.Get("Access-Control-Max-Age") != "86400" || r.hdr.Get("Access-Control-Allow-Methods") == "" {
		t.Errorf("aggregator preflight: %d %v", r.code, r.hdr)
	}
	if r := do(t, "GET", srv.URL+"/v1/blobs/"+id.String(), nil, map[string]string{"Origin": "https://any.example"}); r.code != 200 || r.hdr.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("aggregator read: %d %v", r.code, r.hdr)
	}
	r = preflight(srv.URL+"/v1/blobs", "https://evil.example", "PUT")
	wantError(t, r, 403, api.ReasonOriginNotAllowed)
	if r.hdr.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("refused preflight with CORS headers: %v", r.hdr)
	}
	for _, origin := range []string{"https://evil.example", "null"} {
		wantError(t, do(t, "PUT", srv.URL+"/v1/blobs", []byte("spend"), map[string]string{"Origin": origin}), 403, api.ReasonOriginNotAllowed)
	}
	if n := m.storeCalls(); n != 0 {
		t.Fatalf("%d stores from foreign origins", n)
	}
	if r := do(t, "PUT", srv.URL+"/v1/blobs", []byte("no origin"), nil); r.code != 200 {
		t.Fatalf("a PUT without Origin (not from a browser): %d %s", r.code, r.body)
	}

	app := "https://app.example"
	srv = newTestServer(t, m, func(c *Config) { c.PublisherOrigins = []string{app} })
	r = preflight(srv.URL+"/v1/blobs", app, "PUT")
	if r.code != 200 || r.hdr.Get("Access-Control-Allow-Origin") != app || r.hdr.Get("Access-Control-Allow-Methods") != "PUT" ||
		r.hdr.Get("Access-Control-Allow-Headers") != "authorization,content-type" || !strings.Contains(strings.Join(r.hdr.Values("Vary"), ","), "Origin") {
		t.Errorf("allowed origin's preflight: %d %v", r.code, r.hdr)
	}
	if r := do(t, "PUT", srv.URL+"/v1/blobs", []byte("from the app"), map[string]string{"Origin": app}); r.code != 200 || r.hdr.Get("Access-Control-Allow-Origin") != app {
		t.Errorf("allowed origin's PUT: %d %v", r.code, r.hdr)
	}
	wantError(t, preflight(srv.URL+"/v1/blobs", "https://evil.example", "PUT"), 403, api.ReasonOriginNotAllowed)
	wantError(t, do(t, "PUT", srv.URL+"/v1/blobs", []byte("spend"), map[string]string{"Origin": "http://app.example"}), 403, api.ReasonOriginNotAllowed)

	srv = newTestServer(t, m, func(c *Config) { c.PublisherOrigins = []string{"*"} })
	if r := preflight(srv.URL+"/v1/blobs", "https://any.example", "PUT"); r.code != 200 || r.hdr.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("any origin's preflight: %d %v", r.code, r.hdr)
	}
	if r := do(t, "PUT", srv.URL+"/v1/blobs", []byte("anyone"), map[string]string{"Origin": "https://any.example"}); r.code != 200 {
		t.Errorf("any origin's PUT: %d %s", r.code, r.body)
	}

	for _, o := range []string{"https://app.example/", "app.example", "HTTPS://APP.EXAMPLE", "https://app.example?x", "null", ""} {
		if _, err := New(Config{Publisher: true, Blobs: m, PublisherOrigins: []string{o}}); err == nil {
			t.Errorf("origin %q accepted", o)
		}
	}
}
