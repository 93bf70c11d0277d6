package site

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/client"
	"github.com/floelabs/floe/quilt"
)

func testPatchID(b byte, start uint16) quilt.PatchID {
	var q blob.ID
	for i := range q {
		q[i] = b
	}
	return quilt.PatchID{Quilt: q, Patch: quilt.InternalID{Start: start, End: start + 1}}
}

func testManifest() *Manifest {
	res := func(b byte, ct string) Resource {
		data := []byte{b}
		return Resource{PatchID: testPatchID(b, uint16(b)), SHA256: SumSHA256(data), Size: 1, Headers: map[string]string{"content-type": ct}}
	}
	return &Manifest{
		Version:  ManifestVersion,
		SiteName: "test site",
		Metadata: &Metadata{Description: "a site", Creator: "floe"},
		Resources: map[string]Resource{
			"/index.html":        res(1, "text/html; charset=utf-8"),
			"/app.js":            res(2, "text/javascript; charset=utf-8"),
			"/docs/index.html":   res(3, "text/html; charset=utf-8"),
			"/404.html":          res(4, "text/html; charset=utf-8"),
			"/accounts.html":     res(5, "text/html; charset=utf-8"),
			"/img/logo.png":      res(6, "image/png"),
			"/docs/guide/a.html": res(7, "text/html; charset=utf-8"),
		},
		Routes: map[string]string{"/app/*": "/index.html", "/accounts/*": "/accounts.html"},
		Redirects: map[string]Redirect{
			"/old":           {Location: "/docs/", StatusCode: 301},
			"/blog/*":        {Location: "https://example.com/blog", StatusCode: 302},
			"/blog/special":  {Location: "/special", StatusCode: 307},
			"/files/**/x.md": {Location: "/x", StatusCode: 308},
		},
	}
}

func TestManifestRoundTrip(t *testing.T) {
	m := testManifest()
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	b2, err := got.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, b2) {
		t.Fatalf("manifest does not round-trip:\n%s\n%s", b, b2)
	}
	// Deterministic: the same manifest gives the same bytes.
	b3, _ := testManifest().Marshal()
	if !bytes.Equal(b, b3) {
		t.Fatal("two equal manifests marshal differently")
	}
	if !strings.Contains(string(b), `"quilt_patch_id": "`+m.Resources["/index.html"].PatchID.String()+`"`) {
		t.Fatalf("patch IDs are not in their text form:\n%s", b)
	}
}

func TestParseManifestRejects(t *testing.T) {
	good, _ := testManifest().Marshal()
	cases := map[string]string{
		"unknown field":   strings.Replace(string(good), `"version"`, `"extra": 1, "version"`, 1),
		"trailing data":   string(good) + "{}",
		"wrong version":   strings.Replace(string(good), `"version": 1`, `"version": 2`, 1),
		"relative path":   strings.Replace(string(good), `"/app.js"`, `"app.js"`, 1),
		"dot segment":     strings.Replace(string(good), `"/app.js"`, `"/x/../app.js"`, 1),
		"upper header":    strings.Replace(string(good), `"content-type": "image/png"`, `"Content-Type": "image/png"`, 1),
		"header CRLF":     strings.Replace(string(good), `"image/png"`, `"image/png\r\nSet-Cookie: a=b"`, 1),
		"bad status":      strings.Replace(string(good), `"status_code": 301`, `"status_code": 200`, 1),
		"bad hash":        strings.Replace(string(good), `"sha256": "`, `"sha256": "AB`, 1),
		"bad patch id":    strings.Replace(string(good), `"quilt_patch_id": "`, `"quilt_patch_id": "x`, 1),
		"three stars":     strings.Replace(string(good), `"/app/*"`, `"/a*/b*/c*"`, 1),
		"regex in route":  strings.Replace(string(good), `"/app/*"`, `"/app/(x)"`, 1),
		"two globstars":   strings.Replace(string(good), `"/files/**/x.md"`, `"/**/a/**"`, 1),
		"not json":        "not json",
		"route to a glob": strings.Replace(string(good), `"/app/*": "/index.html"`, `"/app/*": "index.html"`, 1),
	}
	for name, in := range cases {
		if in == string(good) {
			t.Fatalf("%s: the case does not change the manifest", name)
		}
		if _, err := ParseManifest([]byte(in)); !errors.Is(err, ErrInvalidManifest) {
			t.Errorf("%s: got %v, want ErrInvalidManifest", name, err)
		}
	}
}

func TestResolve(t *testing.T) {
	m := testManifest()
	cases := []struct {
		path     string
		want     string // resource path, or "" for none
		status   int
		location string
	}{
		{"/", "/index.html", 200, ""},
		{"/index.html", "/index.html", 200, ""},
		{"/app.js", "/app.js", 200, ""},
		{"/docs", "/docs/index.html", 200, ""},
		{"/docs/", "/docs/index.html", 200, ""},
		{"//docs//", "/docs/index.html", 200, ""},
		{"/img/../app.js", "/app.js", 200, ""},
		{"/../../app.js", "/app.js", 200, ""},
		{"/app/settings/profile", "/index.html", 200, ""},       // route (SPA fallback)
		{"/accounts/42", "/accounts.html", 200, ""},             // the longer route wins over none
		{"/old", "", 301, "/docs/"},                             // redirect
		{"/blog/post-1", "", 302, "https://example.com/blog"},   // glob redirect
		{"/blog/special", "", 307, "/special"},                  // the more specific glob wins
		{"/files/a/b/x.md", "", 308, "/x"},                      // globstar
		{"/files/x.md", "", 308, "/x"},                          // globstar matches zero segments
		{"/blog/a/b", "/404.html", 404, ""},                     // '*' stays within a segment
		{"/missing", "/404.html", 404, ""},                      // the site's 404 page
		{"/404.html", "/404.html", 200, ""},                     // asked for by name
		{"/docs/guide/a.html/", "/docs/guide/a.html", 200, ""},  // trailing slash on a file
		{"/img/logo.png", "/img/logo.png", 200, ""},             // exact
		{"/IMG/logo.png", "/404.html", 404, ""},                 // paths are case-sensitive
		{"/app", "/404.html", 404, ""},                          // "/app/*" needs the slash
		{"/app/", "/404.html", 404, ""},                         // trailing slash dropped: "/app"
		{"/accounts/x/y", "/accounts.html", 200, ""},            // route '*' crosses '/'
		{"/docs/guide", "/404.html", 404, ""},                   // no /docs/guide/index.html
		{"/docs/guide/a.html/index.html", "/404.html", 404, ""}, // not a resource
		{"/docs/index.html/..", "/docs/index.html", 200, ""},    // "/docs": has an index
		{"/docs/./index.html", "/docs/index.html", 200, ""},     // "." dropped
		{"/%2e%2e", "/404.html", 404, ""},                       // not decoded here: a name
		{"/\x00", "/404.html", 404, ""},                         // odd bytes are just misses
		{"/app/\u00e9t\u00e9", "/index.html", 200, ""},          // UTF-8
		{"/blog/special/", "", 307, "/special"},                 // trailing slash dropped
		{"/index.html/", "/index.html", 200, ""},                // trailing slash on index
		{strings.Repeat("/a", 5000), "/404.html", 404, ""},      // long paths are fine
		{"/docs/index.html/../..", "/index.html", 200, ""},      // resolves to "/"
		{"/accounts/*", "/accounts.html", 200, ""},              // a literal star
		{"/app/x/../../app.js", "/app.js", 200, ""},             // dot-dot before lookup
		{"/a*/b", "/404.html", 404, ""},                         // literal stars in the path
		{"/docs/guide/", "/404.html", 404, ""},                  // dir without index
		{"/blog", "/404.html", 404, ""},                         // "/blog/*" needs a segment
		{"/blog/", "/404.html", 404, ""},                        // "/blog"
		{"/files/**/x.md", "", 308, "/x"},                       // a literal globstar segment
		{"/files/a/x.mdx", "/404.html", 404, ""},                // suffix must match
		{"/old/", "", 301, "/docs/"},                            // "/old"
		{"/old/x", "/404.html", 404, ""},                        // exact glob
		{"/docs/index.html", "/docs/index.html", 200, ""},       // exact
		{"/app/index.html", "/index.html", 200, ""},             // route target
		{"/accounts.html", "/accounts.html", 200, ""},           // exact
		{"/accounts", "/404.html", 404, ""},                     // needs the slash
		{"/accounts/", "/404.html", 404, ""},                    // "/accounts"
		{"/accounts/a", "/accounts.html", 200, ""},              // route
		{"/app/accounts/a", "/index.html", 200, ""},             // "/app/*" is the only match
		{"/img", "/404.html", 404, ""},                          // no index
		{"/img/", "/404.html", 404, ""},                         // no index
		{"/img/logo.png/x", "/404.html", 404, ""},               // below a file
		{"/app.js?x=1", "/404.html", 404, ""},                   // query is not part of the path
		{"/app.js#x", "/404.html", 404, ""},                     // nor the fragment
		{"/.well-known/x", "/404.html", 404, ""},                // dot files are names too
		{"/docs/guide/a.html", "/docs/guide/a.html", 200, ""},   // nested
		{"/docs/guide/../index.html", "/docs/index.html", 200, ""},
	}
	for _, c := range cases {
		l := m.Resolve(c.path)
		got := ""
		if l.Resource != nil {
			got = l.Path
		}
		loc := ""
		if l.Redirect != nil {
			loc = l.Redirect.Location
		}
		if got != c.want || l.Status != c.status || loc != c.location {
			t.Errorf("Resolve(%q) = %q %d %q, want %q %d %q", c.path, got, l.Status, loc, c.want, c.status, c.location)
		}
		if l.Resource != nil && l.Resource.SHA256 != m.Resources[l.Path].SHA256 {
			t.Errorf("Resolve(%q): resource is not the manifest's %s", c.path, l.Path)
		}
	}
	// Without a 404 page nothing is found.
	delete(m.Resources, "/404.html")
	if l := m.Resolve("/missing"); l.Found() || l.Status != http.StatusNotFound {
		t.Fatalf("Resolve without a 404 page = %+v", l)
	}
	// A redirect to the path itself is not followed.
	m.Redirects["/loop"] = Redirect{Location: "/loop", StatusCode: 302}
	if l := m.Resolve("/loop"); l.Redirect != nil {
		t.Fatalf("a redirect loop was followed: %+v", l)
	}
}

func TestRouteMatching(t *testing.T) {
	cases := []struct {
		pat, path string
		want      bool
	}{
		{"/*", "/", true}, {"/*", "/a/b", true}, {"*", "/anything", true},
		{"/a/*", "/a/", true}, {"/a/*", "/a", false}, {"/a/*/c", "/a/b/x/c", true},
		{"/a/*/c", "/a/b/x/d", false}, {"/a*b*c", "/aXbYc", true}, {"/a*b*c", "/aXbY", false},
		{"/a.html", "/aXhtml", false}, {"/a.html", "/a.html", true},
		{"/**", "/x", true}, {"", "", true},
	}
	for _, c := range cases {
		if got := matchRoute(c.pat, c.path); got != c.want {
			t.Errorf("matchRoute(%q, %q) = %v", c.pat, c.path, got)
		}
	}
	routes := map[string]string{"/*": "/index.html", "/a/*": "/a.html", "/a/b/*": "/b.html", "/z/*": "/z1", "/y/*": "/z2"}
	for path, want := range map[string]string{"/x": "/index.html", "/a/x": "/a.html", "/a/b/c": "/b.html"} {
		if got, ok := MatchRoute(routes, path); !ok || got != want {
			t.Errorf("MatchRoute(%q) = %q %v, want %q", path, got, ok, want)
		}
	}
}

func TestRedirectGlob(t *testing.T) {
	cases := []struct {
		pat, path string
		want      bool
	}{
		{"/a/*", "/a/b", true}, {"/a/*", "/a/b/c", false}, {"/a/*.html", "/a/x.html", true},
		{"/a/*.html", "/a/.html", true}, {"/a/x*y", "/a/xy", true}, {"/a/x*y", "/a/y", false},
		{"/**", "/a/b/c", true}, {"/a/**/z", "/a/z", true}, {"/a/**/z", "/a/b/c/z", true},
		{"/a/**/z", "/a/b/c/y", false}, {"/a/**", "/a", true},
	}
	for _, c := range cases {
		if err := ValidateRedirectPattern(c.pat); err != nil {
			t.Fatal(err)
		}
		if got := matchGlob(c.pat, c.path); got != c.want {
			t.Errorf("matchGlob(%q, %q) = %v", c.pat, c.path, got)
		}
	}
	for _, bad := range []string{"", "a", "/a**", "/a/*b*", "/**/x/**", "/a b", "/a\n"} {
		if ValidateRedirectPattern(bad) == nil {
			t.Errorf("ValidateRedirectPattern(%q) accepted", bad)
		}
	}
}

func TestLabel(t *testing.T) {
	ids := []client.ObjectID{{}, {31: 1}, {0: 0xff, 31: 0xff}}
	var all client.ObjectID
	for i := range all {
		all[i] = 0xff
	}
	ids = append(ids, all)
	for _, id := range ids {
		l := Label(id)
		if len(l) > 50 || strings.ToLower(l) != l {
			t.Fatalf("Label(%s) = %q", id, l)
		}
		got, err := ObjectIDFromLabel(l)
		if err != nil || got != id {
			t.Fatalf("ObjectIDFromLabel(%q) = %s, %v; want %s", l, got, err, id)
		}
	}
	// The expected form of 2^256-1 was computed independently (Python int to base 36).
	if Label(all) != "6dp5qcb22im238nr3wvp0ic7q99w035jmy2iw7i6n43d37jtof" {
		t.Fatalf("Label(2^256-1) = %q", Label(all))
	}
	// 2^256 does not fit; leading zeros, upper case and other characters are refused.
	for _, bad := range []string{"", "6dp5qcb22im238nr3wvp0ic7q99w035jmy2iw7i6n43d37jtog", "01", "A", "a-b", "a.b", strings.Repeat("z", 51)} {
		if _, err := ObjectIDFromLabel(bad); !errors.Is(err, ErrInvalidSiteID) {
			t.Errorf("ObjectIDFromLabel(%q) = %v", bad, err)
		}
	}
}

func TestScan(t *testing.T) {
	fsys := fstest.MapFS{
		"index.html":        {Data: []byte("<h1>hi</h1>")},
		"style.CSS":         {Data: []byte("h1{}")},
		"js/app.js":         {Data: []byte("1")},
		"img/a.png":         {Data: []byte{0x89, 'P', 'N', 'G'}},
		"data.bin":          {Data: []byte{1, 2}},
		"private/secret":    {Data: []byte("s")},
		"tmp.txt":           {Data: []byte("t")},
		ResourcesFile:       {Data: []byte(`{}`)},
		"nested/" + "x.wat": {Data: []byte("x")},
	}
	ws, err := ParseWSResources([]byte(`{
		"headers": {"/index.html": {"Content-Type": "text/html", "Cache-Control": "max-age=60"}},
		"routes": {"/*": "/index.html"},
		"ignore": ["/private/*", "/tmp.txt"],
		"site_name": "s",
		"metadata": {"creator": "me"},
		"object_id": "0x0000000000000000000000000000000000000000000000000000000000000001"
	}`))
	if err != nil {
		t.Fatal(err)
	}
	files, err := Scan(fsys, ws)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	byPath := map[string]File{}
	for _, f := range files {
		paths = append(paths, f.Path)
		byPath[f.Path] = f
	}
	want := "/data.bin /img/a.png /index.html /js/app.js /nested/x.wat /style.CSS"
	if got := strings.Join(paths, " "); got != want {
		t.Fatalf("Scan paths %q, want %q", got, want)
	}
	checks := map[string]string{
		"/index.html": "text/html", "/style.CSS": "text/css; charset=utf-8", "/js/app.js": "text/javascript; charset=utf-8",
		"/img/a.png": "image/png", "/data.bin": "application/octet-stream", "/nested/x.wat": "application/octet-stream",
	}
	for p, ct := range checks {
		if got := byPath[p].Headers["content-type"]; got != ct {
			t.Errorf("%s: content-type %q, want %q", p, got, ct)
		}
	}
	if byPath["/index.html"].Headers["cache-control"] != "max-age=60" {
		t.Errorf("ws-resources headers not applied: %v", byPath["/index.html"].Headers)
	}
	if byPath["/index.html"].SHA256 != SumSHA256([]byte("<h1>hi</h1>")) || byPath["/index.html"].Size != 11 {
		t.Errorf("hash or size wrong: %+v", byPath["/index.html"])
	}
}

func TestParseWSResourcesRejects(t *testing.T) {
	for name, in := range map[string]string{
		"dashed name":     `{"site-name": "x"}`,
		"bad header":      `{"headers": {"/a": {"X Bad": "v"}}}`,
		"dup header":      `{"headers": {"/a": {"X-A": "1", "x-a": "2"}}}`,
		"relative header": `{"headers": {"a": {"X-A": "1"}}}`,
		"bad redirect":    `{"redirects": {"/a": {"location": "/b", "status_code": 200}}}`,
		"bad ignore":      `{"ignore": ["/a/*/b"]}`,
		"bad object id":   `{"object_id": "0x12"}`,
		"trailing":        `{} {}`,
	} {
		if _, err := ParseWSResources([]byte(in)); !errors.Is(err, ErrInvalidResources) {
			t.Errorf("%s: got %v", name, err)
		}
	}
}

func TestSaveObjectID(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ResourcesFile)
	id := client.ObjectID{1, 2, 3}
	// No file yet: one is created with the ID alone.
	if err := SaveObjectID(path, id, ""); err != nil {
		t.Fatal(err)
	}
	ws, err := ReadWSResources(os.DirFS(dir))
	if err != nil || ws.ObjectID != id.String() || ws.SiteName != "" {
		t.Fatalf("created: %+v %v", ws, err)
	}
	// An existing file keeps its settings; a name is added only where there is none.
	orig := `{"site_name": "kept", "routes": {"/app/*": "/index.html"}, "headers": {"/a.css": {"Cache-Control": "no-store"}}, "ignore": ["/drafts/*"]}`
	if err := os.WriteFile(path, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	other := client.ObjectID{9}
	if err := SaveObjectID(path, other, "ignored"); err != nil {
		t.Fatal(err)
	}
	ws, err = ReadWSResources(os.DirFS(dir))
	if err != nil || ws.ObjectID != other.String() || ws.SiteName != "kept" || ws.Routes["/app/*"] != "/index.html" ||
		ws.Headers["/a.css"]["Cache-Control"] != "no-store" || len(ws.Ignore) != 1 {
		t.Fatalf("updated: %+v %v", ws, err)
	}
	// An invalid file is not overwritten.
	if err := os.WriteFile(path, []byte(`{"site-name": "typo"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := SaveObjectID(path, id, ""); !errors.Is(err, ErrInvalidResources) {
		t.Fatalf("invalid file: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != `{"site-name": "typo"}` {
		t.Fatalf("the invalid file was changed: %s", b)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("temporary files left: %v", entries)
	}
}
