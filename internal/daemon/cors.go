package daemon

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	api "github.com/floelabs/floe/api/daemon"
)

// errOriginNotAllowed: a browser page of an origin outside PublisherOrigins asked the publisher
// to spend its wallet → 403.
var errOriginNotAllowed = errors.New("origin not allowed")

func errOrigin(origin string) error {
	return fmt.Errorf("%w: %q may not use this publisher (allowed origins: --publisher-allowed-origins)", errOriginNotAllowed, origin)
}

// checkOrigin validates a configured origin: "*" or scheme://host[:port].
func checkOrigin(o string) error {
	if o == "*" {
		return nil
	}
	u, err := url.Parse(o)
	if err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("daemon: publisher origin %q: want \"*\" or scheme://host[:port]", o)
	}
	if o != strings.ToLower(o) {
		return fmt.Errorf("daemon: publisher origin %q: browsers send origins in lower case", o)
	}
	return nil
}

// originAllowed reports whether a page of origin may call the publisher.
func (s *Server) originAllowed(origin string) bool {
	return s.origins["*"] || s.origins[origin]
}

// publisherPath reports whether a path is one of the publisher's (its CORS policy applies).
func publisherPath(p string) bool { return p == api.RouteBlobs }

// cors sets the CORS headers of a response and answers preflight requests (returning true).
//
// The aggregator's routes allow any origin and method, preflight cached 24 h, as Walrus's. The
// publisher's spend the wallet: only the origins of PublisherOrigins get CORS headers, a
// preflight from any other origin gets 403, and so does a PUT that carries another Origin
// (browsers send one on every cross-origin PUT, and on a same-origin one; a page the daemon
// serves itself is sandboxed, so its origin is "null").
func (s *Server) cors(w http.ResponseWriter, r *http.Request) bool {
	h := w.Header()
	preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
	if !s.cfg.Publisher || !publisherPath(r.URL.Path) {
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Expose-Headers", "*")
		if preflight {
			h.Set("Access-Control-Allow-Methods", "*")
			h.Set("Access-Control-Allow-Headers", "*")
			h.Set("Access-Control-Max-Age", "86400")
			w.WriteHeader(http.StatusOK)
		}
		return preflight
	}
	origin := r.Header.Get("Origin")
	h.Add("Vary", "Origin")
	allowed := origin != "" && s.originAllowed(origin)
	if allowed {
		if s.origins["*"] {
			h.Set("Access-Control-Allow-Origin", "*")
		} else {
			h.Set("Access-Control-Allow-Origin", origin)
		}
		h.Set("Access-Control-Expose-Headers", "*")
	}
	if !preflight {
		return false
	}
	if !allowed {
		writeError(w, errOrigin(origin))
		return true
	}
	h.Add("Vary", "Access-Control-Request-Headers")
	h.Set("Access-Control-Allow-Methods", http.MethodPut)
	if rh := r.Header.Get("Access-Control-Request-Headers"); rh != "" {
		// Authorization (a JWT) is never covered by "*": name what was asked.
		h.Set("Access-Control-Allow-Headers", rh)
	}
	h.Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusOK)
	return true
}
