package portal

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/client"
	"github.com/floelabs/floe/quilt"
	"github.com/floelabs/floe/redstuff"
	"github.com/floelabs/floe/site"
)

// memBackend holds sites in memory, built with the real quilt encoder, so that the portal's
// HTTP behaviour can be tested without a network (the end-to-end tests in internal/devnet/e2e
// serve the same portal from a real one). It can lie, which a real network cannot be made to.
type memBackend struct {
	mu        sync.Mutex
	objects   map[client.ObjectID]*client.Blob
	manifests map[blob.ID][]byte
	patches   map[quilt.PatchID][]byte
	lie       map[quilt.PatchID][]byte
	reads     int
}

func newMemBackend() *memBackend {
	return &memBackend{objects: map[client.ObjectID]*client.Blob{}, manifests: map[blob.ID][]byte{},
		patches: map[quilt.PatchID][]byte{}, lie: map[quilt.PatchID][]byte{}}
}

func (b *memBackend) SiteObject(_ context.Context, id client.ObjectID) (*client.Blob, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	o, ok := b.objects[id]
	if !ok {
		return nil, fmt.Errorf("%w: object %s", ErrNotFound, id)
	}
	c := *o
	return &c, nil
}

func (b *memBackend) ReadManifest(_ context.Context, id blob.ID, limit int64) ([]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	m, ok := b.manifests[id]
	if !ok {
		return nil, fmt.Errorf("%w: blob %s", ErrNotFound, id)
	}
	return m, nil
}

func (b *memBackend) ReadPatch(_ context.Context, id quilt.PatchID) ([]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reads++
	if l, ok := b.lie[id]; ok {
		return l, nil
	}
	p, ok := b.patches[id]
	if !ok {
		return nil, fmt.Errorf("%w: patch %s", ErrNotFound, id)
	}
	return p, nil
}

const testShards = 10

// addSite stores files (path → contents) as one quilt and a manifest, and returns the site's
// object ID. headers are extra headers by path.
func (b *memBackend) addSite(t *testing.T, objByte byte, files map[string]string, headers map[string]map[string]string, ws *site.WSResources) client.ObjectID {
	t.Helper()
	var patches []quilt.Patch
	for p, data := range files {
		patches = append(patches, quilt.Patch{Identifier: p, Data: []byte(data)})
	}
	q, err := quilt.Encode(testShards, patches)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := redstuff.New(testShards)
	if err != nil {
		t.Fatal(err)
	}
	md, err := q.Metadata(enc)
	if err != nil {
		t.Fatal(err)
	}
	m := &site.Manifest{Version: site.ManifestVersion, Resources: map[string]site.Resource{}}
	if ws != nil {
		m.Routes, m.Redirects = ws.Routes, ws.Redirects
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, pid := range q.Index.PatchIDs(md.ID) {
		e := q.Index.Patches[i]
		p, err := q.Patch(e)
		if err != nil {
			t.Fatal(err)
		}
		b.patches[pid] = p.Data
		h := map[string]string{"content-type": site.ContentType(e.Identifier)}
		for k, v := range headers[e.Identifier] {
			h[k] = v
		}
		m.Resources[e.Identifier] = site.Resource{PatchID: pid, SHA256: site.SumSHA256(p.Data), Size: uint64(len(p.Data)), Headers: h}
	}
	mb, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	mid := blob.ID(site.SumSHA256(mb)) // any distinct ID will do in memory
	b.manifests[mid] = mb
	var oid client.ObjectID
	oid[0], oid[31] = objByte, objByte
	b.objects[oid] = &client.Blob{ID: oid, BlobID: mid, Attributes: map[string]string{site.AttrManifest: mid.String()}}
	return oid
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func get(t *testing.T, srv *httptest.Server, method, host, path string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestPortal(t *testing.T) {
	be := newMemBackend()
	files := map[string]string{
		"/index.html":   "<!doctype html><h1>home</h1>",
		"/style.css":    "h1 { color: red }",
		"/app.js":       "document.title = 'x'",
		"/404.html":     "<h1>custom not found</h1>",
		"/img/logo.png": "\x89PNG fake image bytes 0123456789",
		"/cookie.html":  "cookies",
	}
	ws := &site.WSResources{
		Routes:    map[string]string{"/app/*": "/index.html"},
		Redirects: map[string]site.Redirect{"/old": {Location: "/index.html", StatusCode: 301}},
	}
	headers := map[string]map[string]string{
		"/style.css":   {"cache-control": "max-age=3600"},
		"/cookie.html": {"set-cookie": "a=b; Domain=localhost", "x-custom": "yes", "content-length": "1"},
	}
	id := be.addSite(t, 1, files, headers, ws)
	other := be.addSite(t, 2, map[string]string{"/index.html": "<h1>other site</h1>"}, nil, nil)
	notSite := client.ObjectID{3}
	be.objects[notSite] = &client.Blob{ID: notSite}

	clock := &fakeClock{t: time.Unix(1e9, 0)}
	p, err := New(Config{Backend: be, Now: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	defer srv.Close()
	host := site.Label(id) + ".localhost"

	// Every response carries the safe headers.
	check := func(resp *http.Response) {
		t.Helper()
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Origin-Agent-Cluster") != "?1" {
			t.Errorf("%s: safe headers missing: %v", resp.Request.URL, resp.Header)
		}
	}

	resp, body := get(t, srv, "GET", host, "/", nil)
	check(resp)
	if resp.StatusCode != 200 || body != files["/index.html"] || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET /: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	etag := resp.Header.Get("ETag")
	if etag != `"`+site.SumSHA256([]byte(files["/index.html"])).String()+`"` || resp.Header.Get("Cache-Control") != DefaultCacheControl {
		t.Fatalf("GET /: ETag %q Cache-Control %q", etag, resp.Header.Get("Cache-Control"))
	}
	// Conditional request.
	if resp, _ := get(t, srv, "GET", host, "/index.html", map[string]string{"If-None-Match": etag}); resp.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match: %d", resp.StatusCode)
	}
	// Range request.
	resp, body = get(t, srv, "GET", host, "/img/logo.png", map[string]string{"Range": "bytes=1-3"})
	check(resp)
	if resp.StatusCode != http.StatusPartialContent || body != "PNG" || resp.Header.Get("Content-Range") != fmt.Sprintf("bytes 1-3/%d", len(files["/img/logo.png"])) || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("range: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	if resp, _ := get(t, srv, "GET", host, "/img/logo.png", map[string]string{"Range": "bytes=1000-"}); resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		t.Fatalf("unsatisfiable range: %d", resp.StatusCode)
	}
	// HEAD.
	resp, body = get(t, srv, "HEAD", host, "/style.css", nil)
	if resp.StatusCode != 200 || body != "" || resp.Header.Get("Content-Length") != fmt.Sprint(len(files["/style.css"])) || resp.Header.Get("Cache-Control") != "max-age=3600" {
		t.Fatalf("HEAD: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	// Client-side route.
	if resp, body := get(t, srv, "GET", host, "/app/settings", nil); resp.StatusCode != 200 || body != files["/index.html"] {
		t.Fatalf("route: %d %q", resp.StatusCode, body)
	}
	// Redirect.
	if resp, _ := get(t, srv, "GET", host, "/old", nil); resp.StatusCode != 301 || resp.Header.Get("Location") != "/index.html" {
		t.Fatalf("redirect: %d %v", resp.StatusCode, resp.Header)
	}
	// The site's 404 page.
	if resp, body := get(t, srv, "GET", host, "/nope", nil); resp.StatusCode != 404 || body != files["/404.html"] {
		t.Fatalf("404 page: %d %q", resp.StatusCode, body)
	}
	// Denied headers are dropped, others kept; the real length is sent.
	resp, body = get(t, srv, "GET", host, "/cookie.html", nil)
	if resp.Header.Get("Set-Cookie") != "" || resp.Header.Get("X-Custom") != "yes" || body != "cookies" {
		t.Fatalf("headers: %v %q", resp.Header, body)
	}
	// Other sites are served on their own host only.
	if _, body := get(t, srv, "GET", site.Label(other)+".localhost:1234", "/", nil); body != "<h1>other site</h1>" {
		t.Fatalf("other site: %q", body)
	}
	if resp, body := get(t, srv, "GET", site.Label(other)+".localhost", "/style.css", nil); resp.StatusCode != 404 || strings.Contains(body, "red") {
		t.Fatalf("a file of one site served on another: %d %q", resp.StatusCode, body)
	}
	// The portal's own host, unknown hosts, bad labels, non-sites, unknown objects.
	for _, c := range []struct {
		host string
		code int
	}{
		{"localhost", 200}, {"localhost:8080", 200}, {"example.com", 404}, {"a.b.localhost", 404},
		{"Not-Base36.localhost", 404}, {site.Label(notSite) + ".localhost", 404}, {site.Label(client.ObjectID{9}) + ".localhost", 404},
		{strings.ToUpper(host), 200},
	} {
		resp, body := get(t, srv, "GET", c.host, "/", nil)
		check(resp)
		if resp.StatusCode != c.code {
			t.Errorf("host %q: %d %q", c.host, resp.StatusCode, body)
		}
		if c.host != strings.ToUpper(host) && !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Errorf("host %q: the portal's page has no CSP: %v", c.host, resp.Header)
		}
	}
	if resp, _ := get(t, srv, "POST", host, "/", nil); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %d", resp.StatusCode)
	}

	// Files are cached: reading them again does not reach the backend.
	be.mu.Lock()
	before := be.reads
	be.mu.Unlock()
	get(t, srv, "GET", host, "/", nil)
	get(t, srv, "GET", host, "/style.css", nil)
	be.mu.Lock()
	after := be.reads
	be.mu.Unlock()
	if after != before {
		t.Fatalf("cached files were read again: %d reads", after-before)
	}
}

// TestPortalIntegrity: bytes that do not match the manifest's hash are never served.
func TestPortalIntegrity(t *testing.T) {
	be := newMemBackend()
	id := be.addSite(t, 1, map[string]string{"/index.html": "<h1>real</h1>"}, nil, nil)
	var m *site.Manifest
	for _, mb := range be.manifests {
		var err error
		if m, err = site.ParseManifest(mb); err != nil {
			t.Fatal(err)
		}
	}
	be.lie[m.Resources["/index.html"].PatchID] = []byte("<script>evil()</script>")
	p, err := New(Config{Backend: be})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	defer srv.Close()
	resp, body := get(t, srv, "GET", site.Label(id)+".localhost", "/", nil)
	if resp.StatusCode != http.StatusBadGateway || strings.Contains(body, "evil") {
		t.Fatalf("tampered file: %d %q", resp.StatusCode, body)
	}
}

// TestPortalUpdate: a new manifest shows once the site's pointer is older than SiteTTL.
func TestPortalUpdate(t *testing.T) {
	be := newMemBackend()
	id := be.addSite(t, 1, map[string]string{"/index.html": "v1"}, nil, nil)
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	p, err := New(Config{Backend: be, Now: clock.now, SiteTTL: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	defer srv.Close()
	host := site.Label(id) + ".localhost"
	if _, body := get(t, srv, "GET", host, "/", nil); body != "v1" {
		t.Fatalf("v1: %q", body)
	}
	// Publish v2 under the same object: the attribute moves to a new manifest.
	tmp := be.addSite(t, 7, map[string]string{"/index.html": "v2"}, nil, nil)
	be.mu.Lock()
	be.objects[id].Attributes = be.objects[tmp].Attributes
	be.mu.Unlock()
	if _, body := get(t, srv, "GET", host, "/", nil); body != "v1" {
		t.Fatalf("before the TTL: %q", body)
	}
	clock.add(6 * time.Second)
	if _, body := get(t, srv, "GET", host, "/", nil); body != "v2" {
		t.Fatalf("after the TTL: %q", body)
	}
}

func TestSiteURL(t *testing.T) {
	id := client.ObjectID{31: 35}
	if got := SiteURL("localhost", id, "127.0.0.1:3000"); got != "http://z.localhost:3000/" {
		t.Fatalf("SiteURL = %q", got)
	}
	if got := SiteURL("example.org", id, "0.0.0.0:80"); got != "http://z.example.org/" {
		t.Fatalf("SiteURL = %q", got)
	}
}
