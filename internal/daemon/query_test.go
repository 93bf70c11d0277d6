package daemon

import (
	"maps"
	"net/url"
	"testing"
	"time"

	api "github.com/floelabs/floe/api/daemon"
)

// Queries are parsed from the raw string: a pair net/url would drop is an error, not a default.
func TestStoreQueryStrict(t *testing.T) {
	m := newMem()
	srv := newTestServer(t, m, nil)
	for _, q := range []string{
		"epochs=50;", "epochs=5&;", "epochs=50;force=true", "force", "permanent=", "epochs=%zz", "%zz=1",
		"epochs=54", "epochs=4294967295",
		"reuse_resources=yes", "reuse_resources=",
	} {
		wantError(t, do(t, "PUT", srv.URL+"/v1/blobs?"+q, []byte("data "+q), nil), 400, api.ReasonMalformedRequest)
	}
	if n := m.storeCalls(); n != 0 {
		t.Fatalf("%d stores from refused queries", n)
	}
	for _, tc := range []struct {
		q      string
		epochs uint32
		force  bool
		reuse  bool
	}{
		{"epochs=53", 53, false, false},
		{"epochs=2&&force=true&", 2, true, false},
		{"reuse_resources=false&epochs=%33", 3, false, false},
		{"reuse_resources=true&epochs=4", 4, false, true},
		{"force=true&encoding_type=RS2&deletable=false", 1, true, false},
	} {
		if r := do(t, "PUT", srv.URL+"/v1/blobs?"+tc.q, []byte("data "+tc.q), nil); r.code != 200 {
			t.Fatalf("%s: %d %s", tc.q, r.code, r.body)
		}
		if m.lastParams.Epochs != tc.epochs || m.lastParams.Force != tc.force || m.lastParams.ReuseResources != tc.reuse {
			t.Errorf("%s: params %+v", tc.q, m.lastParams)
		}
	}
}

// Epochs beyond the network's limit are refused before the body is read.
func TestEpochsBeyondLimitBeforeBody(t *testing.T) {
	m := newMem()
	m.maxEpochs = 10
	_, base := startServer(t, Config{Publisher: true, Blobs: m})
	c := rawConn(t, base, "PUT /v1/blobs?epochs=11 HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n", nil)
	wantError(t, readResponse(t, c, 10*time.Second), 400, api.ReasonMalformedRequest)
	if m.storeCalls() != 0 {
		t.Fatalf("stored")
	}
}

func TestReadQueryStrict(t *testing.T) {
	m := newMem()
	srv := newTestServer(t, m, nil)
	id := m.put([]byte("some blob"))
	u := srv.URL + "/v1/blobs/" + id.String()
	for _, q := range []string{
		"strict_consistency_check=true&skip_consistency_check=true",
		"strict_consistency_check=1", "skip_consistency_check", "x=1", "strict_consistency_check=false;",
	} {
		wantError(t, do(t, "GET", u+"?"+q, nil, nil), 400, api.ReasonMalformedRequest)
	}
	if r := m.lastReads(); len(r) != 0 {
		t.Fatalf("refused queries read the blob: %+v", r)
	}
	for _, tc := range []struct {
		q    string
		want ReadParams
	}{
		{"", ReadParams{}},
		{"strict_consistency_check=false", ReadParams{}},
		{"skip_consistency_check=false&strict_consistency_check=false", ReadParams{}},
		{"strict_consistency_check=true", ReadParams{Strict: true}},
		{"skip_consistency_check=true&strict_consistency_check=false", ReadParams{Skip: true}},
	} {
		if r := do(t, "GET", u+"?"+tc.q, nil, nil); r.code != 200 || string(r.body) != "some blob" {
			t.Errorf("%q: %d %s", tc.q, r.code, r.body)
		}
		if r := m.lastReads(); len(r) != 1 || r[0] != tc.want {
			t.Errorf("%q: reads with %+v, want one with %+v", tc.q, r, tc.want)
		}
		// The same checks apply to a Range read.
		if r := do(t, "GET", u+"?"+tc.q, nil, map[string]string{"Range": "bytes=1-3"}); r.code != 206 || string(r.body) != "ome" {
			t.Errorf("%q with a Range: %d %s", tc.q, r.code, r.body)
		}
		if r := m.lastReads(); len(r) != 1 || r[0] != tc.want {
			t.Errorf("%q with a Range: reads with %+v, want one with %+v", tc.q, r, tc.want)
		}
	}
	for _, q := range []string{"start=0&length=1&x=1", "start=0;&length=1", "start=0&length=1&start=0", "start=0&length=1&strict_consistency_check=false"} {
		r := do(t, "GET", u+"/byte-range?"+q, nil, nil)
		if r.code != 400 {
			t.Errorf("byte-range %q: %d %s", q, r.code, r.body)
		}
	}
	if r := do(t, "GET", u+"/byte-range?start=1&length=3", nil, nil); r.code != 200 || string(r.body) != "ome" {
		t.Errorf("byte-range: %d %s", r.code, r.body)
	}
}

// A method a route does not serve is a 405 naming the ones it does.
func TestMethodNotAllowed(t *testing.T) {
	m := newMem()
	srv := newTestServer(t, m, nil)
	id := m.put([]byte("x"))
	for _, tc := range []struct {
		method, path, allow string
	}{
		{"DELETE", "/v1/blobs", "PUT"},
		{"GET", "/v1/blobs", "PUT"},
		{"POST", "/v1/blobs/" + id.String(), "GET, HEAD"},
		{"PUT", "/v1/blobs/" + id.String() + "/byte-range", "GET, HEAD"},
		{"DELETE", "/v1/blobs/by-object-id/0x01", "GET, HEAD"},
		{"POST", "/status", "GET, HEAD"},
		{"PATCH", "/v1/api", "GET, HEAD"},
	} {
		r := do(t, tc.method, srv.URL+tc.path, nil, nil)
		wantError(t, r, 405, api.ReasonMethodNotAllowed)
		if r.hdr.Get("Allow") != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, r.hdr.Get("Allow"), tc.allow)
		}
	}
	// A path no role serves stays a 404.
	agg := newTestServer(t, m, func(c *Config) { c.Publisher = false })
	wantError(t, do(t, "PUT", agg.URL+"/v1/blobs", []byte("x"), nil), 404, api.ReasonNotFound)
	wantError(t, do(t, "GET", srv.URL+"/v1/nothing", nil, nil), 404, api.ReasonNotFound)
}

func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"epochs=50;", "a=1&b=2", "&&", "%zz", "a+b=c%20d", "=", "a=1&a=2", "force"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		parseStoreQuery(raw) // never panics
		q, err := parseQuery(raw, "a", "b", "epochs", "force")
		if err != nil {
			return
		}
		// What parsed is what net/url would encode back, and parses the same again.
		v := url.Values{}
		for k, x := range q {
			if k != "a" && k != "b" && k != "epochs" && k != "force" {
				t.Fatalf("unknown key %q accepted from %q", k, raw)
			}
			v.Set(k, x)
		}
		again, err := parseQuery(v.Encode(), "a", "b", "epochs", "force")
		if err != nil || !maps.Equal(again, q) {
			t.Fatalf("%q parsed as %v, re-encoded %q parsed as %v (%v)", raw, q, v.Encode(), again, err)
		}
	})
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-1", "bytes=-5", "bytes=5-", "bytes=0-1,2-3", "items=1-2", "bytes=9-3", "bytes=-0"} {
		f.Add(s, uint64(1000))
	}
	f.Fuzz(func(t *testing.T, h string, size uint64) {
		br, err := parseRange(h, size)
		if err != nil || br == nil {
			return
		}
		if br.length == 0 || br.start >= size || br.length > size-br.start {
			t.Fatalf("parseRange(%q, %d) = %+v: outside the blob", h, size, br)
		}
	})
}

// The concat route passes its consistency checks, from the query or the JSON body, to every
// blob's read.
func TestConcatConsistency(t *testing.T) {
	m := newMem()
	srv := newTestServer(t, m, nil)
	a, b := m.put([]byte("first ")), m.put([]byte("second"))
	ids := a.String() + "," + b.String()
	for _, tc := range []struct {
		method, query, body string
		want                ReadParams
	}{
		{"GET", "", "", ReadParams{}},
		{"GET", "&strict_consistency_check=true", "", ReadParams{Strict: true}},
		{"GET", "&skip_consistency_check=true", "", ReadParams{Skip: true}},
		{"POST", "", `"strict_consistency_check": true`, ReadParams{Strict: true}},
		{"POST", "", `"skip_consistency_check": true, "strict_consistency_check": false`, ReadParams{Skip: true}},
	} {
		var r result
		if tc.method == "GET" {
			r = do(t, "GET", srv.URL+"/v1alpha/blobs/concat?ids="+ids+tc.query, nil, nil)
		} else {
			body := `{"ids": ["` + a.String() + `", "` + b.String() + `"]`
			if tc.body != "" {
				body += ", " + tc.body
			}
			r = do(t, "POST", srv.URL+"/v1alpha/blobs/concat", []byte(body+"}"), map[string]string{"Content-Type": "application/json"})
		}
		if r.code != 200 || string(r.body) != "first second" {
			t.Fatalf("%s %s %s: %d %s", tc.method, tc.query, tc.body, r.code, r.body)
		}
		if got := m.lastReads(); len(got) != 2 || got[0] != tc.want || got[1] != tc.want {
			t.Errorf("%s %s %s: reads with %+v, want two with %+v", tc.method, tc.query, tc.body, got, tc.want)
		}
	}
	r := do(t, "POST", srv.URL+"/v1alpha/blobs/concat", []byte(`{"ids": ["`+a.String()+`"], "strict_consistency_check": true, "skip_consistency_check": true}`), map[string]string{"Content-Type": "application/json"})
	wantError(t, r, 400, api.ReasonMalformedRequest)
	if got := m.lastReads(); len(got) != 0 {
		t.Fatalf("a refused concat read: %+v", got)
	}
}
