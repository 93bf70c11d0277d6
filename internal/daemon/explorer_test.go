package daemon

import (
	"io"
	"net/http"
	"testing"
)

// pageAt is a stand-in for the explorer: a handler that names the path it got.
type pageAt string

func (p pageAt) Prefix() string { return string(p) }

func (p pageAt) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, "explorer "+r.URL.Path)
}

// With an explorer, GET / leads to it and its paths reach it without CORS headers (its pages
// are for the daemon's own origin); without one, / is a 404 as before.
func TestExplorerMount(t *testing.T) {
	srv := newTestServer(t, newMem(), func(c *Config) { c.Explorer = pageAt("/explorer") })
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/explorer/" {
		t.Fatalf("GET /: %s → %q", resp.Status, resp.Header.Get("Location"))
	}
	for _, path := range []string{"/explorer", "/explorer/", "/explorer/blob/x"} {
		r := do(t, http.MethodGet, srv.URL+path, nil, map[string]string{"Origin": "https://elsewhere.example"})
		if r.code != http.StatusOK || string(r.body) != "explorer "+path {
			t.Errorf("%s: %d %q", path, r.code, r.body)
		}
		if r.hdr.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("%s: CORS header %q on an explorer page", path, r.hdr.Get("Access-Control-Allow-Origin"))
		}
	}
	if r := do(t, http.MethodGet, srv.URL+"/explorers", nil, nil); r.code != http.StatusNotFound {
		t.Errorf("/explorers: %d, want the daemon's 404", r.code)
	}
	if r := do(t, http.MethodPost, srv.URL+"/", nil, nil); r.code == http.StatusFound {
		t.Error("POST / redirected")
	}
	plain := newTestServer(t, newMem(), nil)
	if r := do(t, http.MethodGet, plain.URL+"/", nil, nil); r.code != http.StatusNotFound {
		t.Errorf("GET / without an explorer: %d", r.code)
	}
}
