package site

import (
	"net/http"
	"strings"
)

// NotFoundPath is the resource a site serves, with status 404, for a path it does not have.
const NotFoundPath = "/404.html"

// Lookup is the outcome of resolving a request path against a manifest.
type Lookup struct {
	// Path is the resource served (empty for a redirect or when nothing matched).
	Path     string
	Resource *Resource
	// Status is 200 for a resource or a route, 404 for the site's 404 page or nothing, or
	// the redirect's status.
	Status int
	// Redirect is set when a redirect rule matched.
	Redirect *Redirect
}

// Found reports whether the lookup names a resource to serve (possibly the 404 page).
func (l Lookup) Found() bool { return l.Resource != nil }

// Resolve finds what a portal serves for the (decoded) request path, as Walrus's portal does:
//
//  1. the resource at the path ("/" is "/index.html"; a trailing slash is dropped, and a path
//     with a trailing slash or none of its own also tries path + "/index.html");
//  2. else the most specific matching redirect;
//  3. else the resource of the longest matching route (client-side routing, SPA fallback);
//  4. else the site's /404.html with status 404;
//  5. else nothing, status 404.
func (m *Manifest) Resolve(reqPath string) Lookup {
	p, dir := normalizeRequestPath(reqPath)
	candidates := []string{p}
	if dir {
		candidates = []string{p + "/index.html", p}
	} else if p != "/index.html" {
		candidates = append(candidates, p+"/index.html")
	}
	if p == "/" {
		candidates = []string{"/index.html"}
		p = "/index.html"
	}
	for _, c := range candidates {
		if r, ok := m.Resources[c]; ok {
			return Lookup{Path: c, Resource: &r, Status: http.StatusOK}
		}
	}
	if rd, ok := MatchRedirect(m.Redirects, p); ok && rd.Location != p && rd.Location != reqPath {
		return Lookup{Redirect: &rd, Status: rd.StatusCode}
	}
	if target, ok := MatchRoute(m.Routes, p); ok {
		if r, ok := m.Resources[target]; ok {
			return Lookup{Path: target, Resource: &r, Status: http.StatusOK}
		}
	}
	if r, ok := m.Resources[NotFoundPath]; ok {
		return Lookup{Path: NotFoundPath, Resource: &r, Status: http.StatusNotFound}
	}
	return Lookup{Status: http.StatusNotFound}
}

// normalizeRequestPath turns a decoded URL path into the path resources are keyed by: rooted,
// repeated slashes collapsed, "." and ".." segments resolved (never above the root), the
// trailing slash dropped ("/" stays "/"). dir reports whether the path ended in a slash.
func normalizeRequestPath(p string) (string, bool) {
	dir := strings.HasSuffix(p, "/") && p != "/"
	var segs []string
	for _, s := range strings.Split(p, "/") {
		switch s {
		case "", ".":
		case "..":
			if len(segs) > 0 {
				segs = segs[:len(segs)-1]
			}
		default:
			segs = append(segs, s)
		}
	}
	if len(segs) == 0 {
		return "/", false
	}
	return "/" + strings.Join(segs, "/"), dir
}
