package site

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzParseManifest: a manifest read from the network is untrusted. Parsing never panics, and
// what parses marshals back to a manifest that parses to the same bytes.
func FuzzParseManifest(f *testing.F) {
	good, err := testManifest().Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"version":1,"resources":{}}`))
	f.Add([]byte(`{"version":1,"resources":{"/a":{"quilt_patch_id":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABAAABAA","sha256":"` + strings.Repeat("0", 64) + `","size":1}}}`))
	f.Add([]byte(`{"version":1,"resources":{},"routes":{"/*":"/index.html"},"redirects":{"/a/**":{"location":"/b","status_code":301}}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseManifest(b)
		if err != nil {
			return
		}
		out, err := m.Marshal()
		if err != nil {
			t.Fatalf("a parsed manifest does not marshal: %v", err)
		}
		m2, err := ParseManifest(out)
		if err != nil {
			t.Fatalf("a marshalled manifest does not parse: %v\n%s", err, out)
		}
		out2, _ := m2.Marshal()
		if !bytes.Equal(out, out2) {
			t.Fatalf("not stable:\n%s\n%s", out, out2)
		}
		// Resolving any path of it never panics and names only its own resources.
		for _, p := range append(m.Paths(), "/", "/x/", "/404.html") {
			l := m.Resolve(p)
			if l.Resource != nil {
				if _, ok := m.Resources[l.Path]; !ok {
					t.Fatalf("Resolve(%q) named %q, not a resource", p, l.Path)
				}
			}
		}
	})
}

// FuzzParseWSResources: ws-resources.json is user input.
func FuzzParseWSResources(f *testing.F) {
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"headers":{"/index.html":{"Content-Type":"text/html"}},"routes":{"/*":"/index.html"},"ignore":["/p/*"],"site_name":"s"}`))
	f.Add([]byte(`{"redirects":{"/a":{"location":"/b","status_code":302}},"metadata":{"link":"x"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ws, err := ParseWSResources(b)
		if err != nil {
			return
		}
		if err := ws.Validate(); err != nil {
			t.Fatalf("parsed but does not validate: %v", err)
		}
	})
}

// FuzzObjectIDFromLabel: host labels come from requests.
func FuzzObjectIDFromLabel(f *testing.F) {
	for _, s := range []string{"0", "1", "zz", "6dp5qcb22im238nr3wvp0ic7q99w035jmy2iw7i6n43d37jtof", "01", "A", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ObjectIDFromLabel(s)
		if err != nil {
			return
		}
		if Label(id) != s {
			t.Fatalf("ObjectIDFromLabel(%q) = %s, whose label is %q", s, id, Label(id))
		}
	})
}

// FuzzResolve: request paths are untrusted; resolution never panics and is consistent.
func FuzzResolve(f *testing.F) {
	for _, p := range []string{"/", "/app/x", "/old", "/blog/a", "/files/a/b/x.md", "/../x", "//", "/a/./b/../c/", "\x00"} {
		f.Add(p)
	}
	m := testManifest()
	f.Fuzz(func(t *testing.T, p string) {
		l := m.Resolve(p)
		switch {
		case l.Redirect != nil:
			if l.Resource != nil || l.Redirect.Validate() != nil {
				t.Fatalf("Resolve(%q) = %+v", p, l)
			}
		case l.Resource != nil:
			if _, ok := m.Resources[l.Path]; !ok || (l.Status != 200 && l.Status != 404) {
				t.Fatalf("Resolve(%q) = %+v", p, l)
			}
		default:
			if l.Status != 404 {
				t.Fatalf("Resolve(%q) = %+v", p, l)
			}
		}
	})
}
