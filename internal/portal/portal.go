// Package portal serves Floe sites (package site) over HTTP, as Walrus's portal serves Walrus
// Sites: a request for http://<label>.<domain>/<path> names the site whose object ID has the
// base36 form <label> (site.Label); the portal reads the site object's manifest attribute,
// fetches and caches the manifest, resolves the path (resources, then redirects, routes and
// the site's 404 page, see site.Manifest.Resolve), reads the file's quilt patch from the
// network (only the columns it spans), checks its SHA-256 against the manifest, and serves it
// with the manifest's headers, an ETag, Cache-Control, and range requests.
//
// Every site has its own origin (its own host name), which is what keeps one site's scripts
// away from another's pages. The portal adds X-Content-Type-Options: nosniff and
// Origin-Agent-Cluster: ?1 (so a page cannot relax its origin with document.domain) to every
// response, never serves a site on the portal's own host or on a host that is not
// <label>.<domain>, refuses site headers that would reach beyond the site's origin or break
// the response (Set-Cookie, hop-by-hop and framing headers, and the headers the portal owns),
// and serves its own pages with a Content-Security-Policy that runs no script.
package portal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/client"
	"github.com/floelabs/floe/quilt"
	"github.com/floelabs/floe/site"
)

// DefaultCacheControl is the Cache-Control of files whose site sets none.
const DefaultCacheControl = "public, no-cache"

// Default listen address of `floe portal` and of the devnet's portal.
const (
	DefaultPort = "31417"
	DefaultAddr = "127.0.0.1:" + DefaultPort
)

// Errors a Backend returns (wrapped) so that the portal answers with the right status.
var (
	// ErrNotFound: the object, blob or patch does not exist (or expired) → 404.
	ErrNotFound = errors.New("portal: not found")
	// ErrUnavailable: it exists but could not be read now → 503.
	ErrUnavailable = errors.New("portal: unavailable")
)

// Backend is what the portal reads from the network; FromClient adapts the client SDK.
type Backend interface {
	// SiteObject returns the blob object whose ID names a site.
	SiteObject(ctx context.Context, id client.ObjectID) (*client.Blob, error)
	// ReadManifest returns the bytes of a manifest blob, refusing more than limit bytes.
	ReadManifest(ctx context.Context, id blob.ID, limit int64) ([]byte, error)
	// ReadPatch returns the bytes of a quilt patch.
	ReadPatch(ctx context.Context, id quilt.PatchID) ([]byte, error)
}

// Config configures a portal.
type Config struct {
	Backend Backend
	// Domain is the portal's domain: sites are served on <label>.<Domain> (default
	// "localhost", which browsers resolve to the loopback address).
	Domain string
	// SiteTTL is how long a site object's manifest pointer is cached, i.e. how soon an update
	// shows (default 5 s). Manifests and files are cached by their content-addressed IDs.
	SiteTTL time.Duration
	// CacheBytes bounds the file bytes cached (default 64 MiB; negative: none).
	CacheBytes int64
	// CacheControl is sent with files whose headers set none (default "public, no-cache":
	// browsers and caches keep the file but revalidate it with its ETag, a cheap 304, so that
	// an update of the site shows at once; a site sets longer lifetimes for what never
	// changes in ws-resources.json).
	CacheControl string
	// ReadTimeout bounds the read of one file (default 2 minutes).
	ReadTimeout time.Duration
	Logger      *slog.Logger
	// Now is the clock (time.Now if nil).
	Now func() time.Time
}

// Server is the portal's HTTP handler.
type Server struct {
	cfg   Config
	log   *slog.Logger
	sites *ttlCache[client.ObjectID, siteEntry]
	mfs   *lru[blob.ID, *site.Manifest]
	files *lru[fileKey, []byte]
	// flight collapses concurrent loads of the same file.
	flightMu sync.Mutex
	flight   map[fileKey]*call
}

type siteEntry struct {
	manifest blob.ID
	err      error
}

type fileKey struct {
	patch quilt.PatchID
	hash  site.Hash
}

type call struct {
	done chan struct{}
	data []byte
	err  error
}

// New returns the portal handler for cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Backend == nil {
		return nil, errors.New("portal: no Backend")
	}
	if cfg.Domain == "" {
		cfg.Domain = "localhost"
	}
	cfg.Domain = strings.ToLower(strings.TrimSuffix(cfg.Domain, "."))
	if cfg.SiteTTL <= 0 {
		cfg.SiteTTL = 5 * time.Second
	}
	if cfg.CacheBytes == 0 {
		cfg.CacheBytes = 64 << 20
	}
	if cfg.CacheControl == "" {
		cfg.CacheControl = DefaultCacheControl
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = 2 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Server{cfg: cfg, log: cfg.Logger,
		sites:  newTTLCache[client.ObjectID, siteEntry](4096, cfg.SiteTTL, cfg.Now),
		mfs:    newLRU[blob.ID, *site.Manifest](256, func(*site.Manifest) int64 { return 1 }),
		files:  newLRU[fileKey, []byte](max(cfg.CacheBytes, 0), func(b []byte) int64 { return int64(len(b)) }),
		flight: map[fileKey]*call{},
	}, nil
}

// URL returns the address of a site on a portal listening at addr (host:port), e.g.
// http://<label>.localhost:3000/.
func (s *Server) URL(id client.ObjectID, addr string) string {
	return SiteURL(s.cfg.Domain, id, addr)
}

// SiteURL returns http://<label>.<domain>[:port]/ for a portal listening at addr.
func SiteURL(domain string, id client.ObjectID, addr string) string {
	host := site.Label(id) + "." + domain
	if _, port, err := net.SplitHostPort(addr); err == nil && port != "80" {
		host += ":" + port
	}
	return "http://" + host + "/"
}

// ServeHTTP serves a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Origin-Agent-Cluster", "?1")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		s.page(w, r, http.StatusMethodNotAllowed, "Method not allowed", "The portal serves GET and HEAD only.")
		return
	}
	label, ok := s.siteLabel(r.Host)
	if !ok {
		if host := hostOnly(r.Host); host == s.cfg.Domain {
			s.page(w, r, http.StatusOK, "Floe portal", "This portal serves Floe sites at http://<site>."+s.cfg.Domain+"/, where <site> is the base36 form of the site's object ID (floe site publish prints it).")
			return
		}
		s.page(w, r, http.StatusNotFound, "Unknown host", "This portal serves sites on subdomains of "+s.cfg.Domain+" only.")
		return
	}
	id, err := site.ObjectIDFromLabel(label)
	if err != nil {
		s.page(w, r, http.StatusNotFound, "No such site", "The host name does not name a site object.")
		return
	}
	m, err := s.manifest(r.Context(), id)
	if err != nil {
		s.fail(w, r, err, "site", id.String())
		return
	}
	l := m.Resolve(r.URL.Path)
	switch {
	case l.Redirect != nil:
		h.Set("Location", l.Redirect.Location)
		h.Set("Cache-Control", s.cfg.CacheControl)
		w.WriteHeader(l.Redirect.StatusCode)
		return
	case l.Resource == nil:
		s.page(w, r, http.StatusNotFound, "Page not found", "The site has no page at this path.")
		return
	}
	data, err := s.file(r.Context(), *l.Resource)
	if err != nil {
		s.fail(w, r, err, "file", l.Path)
		return
	}
	for k, v := range l.Resource.Headers {
		if allowedHeader(k) {
			h.Set(k, v)
		}
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", site.ContentType(l.Path))
	}
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", s.cfg.CacheControl)
	}
	h.Set("ETag", `"`+l.Resource.SHA256.String()+`"`)
	if l.Status == http.StatusOK {
		// Ranges, conditional requests (If-None-Match against the ETag) and HEAD.
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
		return
	}
	h.Set("Content-Length", fmt.Sprint(len(data)))
	w.WriteHeader(l.Status)
	if r.Method != http.MethodHead {
		w.Write(data)
	}
}

// siteLabel returns the label of a site host, <label>.<domain>[:port].
func (s *Server) siteLabel(hostport string) (string, bool) {
	host := hostOnly(hostport)
	label, ok := strings.CutSuffix(host, "."+s.cfg.Domain)
	if !ok || label == "" || strings.Contains(label, ".") {
		return "", false
	}
	return label, true
}

func hostOnly(hostport string) string {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	return strings.ToLower(strings.TrimSuffix(host, "."))
}

// manifest returns the current manifest of site id: the object's manifest attribute is
// cached for SiteTTL, manifests by blob ID.
func (s *Server) manifest(ctx context.Context, id client.ObjectID) (*site.Manifest, error) {
	e, ok := s.sites.get(id)
	if !ok {
		obj, err := s.cfg.Backend.SiteObject(ctx, id)
		if err == nil {
			e.manifest, e.err = site.ManifestID(obj)
		} else {
			e.err = err
		}
		if e.err == nil || errors.Is(e.err, ErrNotFound) || errors.Is(e.err, site.ErrNotASite) {
			s.sites.put(id, e)
		}
	}
	if e.err != nil {
		return nil, e.err
	}
	if m, ok := s.mfs.get(e.manifest); ok {
		return m, nil
	}
	b, err := s.cfg.Backend.ReadManifest(ctx, e.manifest, site.MaxManifestSize)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", e.manifest, err)
	}
	m, err := site.ParseManifest(b)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", e.manifest, err)
	}
	s.mfs.put(e.manifest, m)
	return m, nil
}

// errHashMismatch: the bytes read do not have the manifest's SHA-256.
var errHashMismatch = errors.New("portal: file does not match its hash in the manifest")

// file returns a resource's bytes, verified against its SHA-256 (cached by patch ID and hash;
// concurrent loads of one file share one read).
func (s *Server) file(ctx context.Context, res site.Resource) ([]byte, error) {
	key := fileKey{res.PatchID, res.SHA256}
	if b, ok := s.files.get(key); ok {
		return b, nil
	}
	s.flightMu.Lock()
	if c, ok := s.flight[key]; ok {
		s.flightMu.Unlock()
		select {
		case <-c.done:
			return c.data, c.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	c := &call{done: make(chan struct{})}
	s.flight[key] = c
	s.flightMu.Unlock()
	// The read runs for the first caller, detached from its cancellation, which would fail the
	// callers waiting for it too.
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ReadTimeout)
	c.data, c.err = s.loadFile(lctx, res)
	cancel()
	s.flightMu.Lock()
	delete(s.flight, key)
	s.flightMu.Unlock()
	close(c.done)
	if c.err == nil {
		s.files.put(key, c.data)
	}
	return c.data, c.err
}

func (s *Server) loadFile(ctx context.Context, res site.Resource) ([]byte, error) {
	b, err := s.cfg.Backend.ReadPatch(ctx, res.PatchID)
	if err != nil {
		return nil, fmt.Errorf("patch %s: %w", res.PatchID, err)
	}
	if got := site.SumSHA256(b); got != res.SHA256 || uint64(len(b)) != res.Size {
		return nil, fmt.Errorf("%w: patch %s: %d bytes with SHA-256 %s, the manifest says %d bytes with %s",
			errHashMismatch, res.PatchID, len(b), got, res.Size, res.SHA256)
	}
	return b, nil
}

// fail answers an error of the backend or of verification.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error, what, name string) {
	switch {
	case errors.Is(err, site.ErrNotASite):
		s.page(w, r, http.StatusNotFound, "Not a site", "This object exists but is not a Floe site.")
	case errors.Is(err, ErrNotFound):
		s.page(w, r, http.StatusNotFound, "Site not found", "The site, or a file of it, does not exist or has expired.")
	case errors.Is(err, site.ErrInvalidManifest):
		s.log.Warn("invalid site manifest", what, name, "err", err)
		s.page(w, r, http.StatusBadGateway, "Invalid site", "The site's manifest is not valid.")
	case errors.Is(err, errHashMismatch):
		s.log.Warn("file does not match the manifest", what, name, "err", err)
		s.page(w, r, http.StatusBadGateway, "Integrity check failed", "The file read from the network does not match its hash in the site's manifest; it was not served.")
	case r.Context().Err() != nil:
		// The client went away.
	default:
		s.log.Warn("portal read failed", what, name, "err", err)
		s.page(w, r, http.StatusServiceUnavailable, "Site unavailable", "The site could not be read from the network right now; try again.")
	}
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>body{font-family:sans-serif;max-width:40em;margin:4em auto;color:#222}h1{font-weight:400}</style>
</head><body><h1>{{.Title}}</h1><p>{{.Text}}</p><p><small>Floe portal</small></p></body></html>
`))

// page writes one of the portal's own pages: no script runs on it.
func (s *Server) page(w http.ResponseWriter, r *http.Request, status int, title, text string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	h.Set("Cache-Control", "no-store")
	var buf bytes.Buffer
	pageTmpl.Execute(&buf, struct{ Title, Text string }{title, text})
	h.Set("Content-Length", fmt.Sprint(buf.Len()))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}

// deniedHeaders are never taken from a site's manifest: cookies (a cookie may be scoped to the
// portal's whole domain, i.e. every site), framing and hop-by-hop headers, and the headers the
// portal sets itself.
var deniedHeaders = map[string]bool{
	"set-cookie": true, "set-cookie2": true,
	"connection": true, "keep-alive": true, "proxy-connection": true, "transfer-encoding": true,
	"upgrade": true, "te": true, "trailer": true, "content-length": true, "content-range": true,
	"accept-ranges": true, "etag": true, "last-modified": true, "location": true, "date": true,
	"server": true, "vary": true, "x-content-type-options": true, "origin-agent-cluster": true,
	"alt-svc": true, "strict-transport-security": true, "clear-site-data": true,
	"www-authenticate": true, "proxy-authenticate": true,
}

// allowedHeader reports whether a site may set header k (lower case).
func allowedHeader(k string) bool { return !deniedHeaders[k] }
