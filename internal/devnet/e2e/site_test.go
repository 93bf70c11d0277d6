package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/floelabs/floe/client"
	"github.com/floelabs/floe/internal/browsertest"
	"github.com/floelabs/floe/site"
)

// -site.screenshots keeps the site test's screenshots in a directory (default: the test's
// temporary directory, removed after the test; the test logs the paths).
var screenshots = flag.String("site.screenshots", "", "directory for the site test's screenshots (default: the test's temp dir)")

const siteIndex = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Floe test site</title><link rel="stylesheet" href="/css/site.css"></head>
<body>
<header><img id="logo" src="/img/logo.png" alt="Floe logo" width="64" height="64"><h1 id="title">Floe test site</h1></header>
<nav><a href="/">home</a> | <a id="to-route" href="/app/settings/profile">settings</a></nav>
<main>
<p id="static">Static text from index.html.</p>
<p id="js-out">JavaScript has not run.</p>
<p id="route-out"></p>
<p id="data-out"></p>
</main>
<script src="/js/app.js"></script>
</body>
</html>
`

const siteCSS = `body { font-family: sans-serif; background: #eef3f8; margin: 2em; }
header { display: flex; align-items: center; gap: 1em; }
#title { color: rgb(20, 90, 160); }
#js-out { font-weight: bold; color: rgb(0, 128, 0); }
`

// siteJS renders text only a script can produce, the client-side route, and data fetched from
// the site itself.
const siteJS = `(function () {
  document.getElementById("js-out").textContent = "Rendered by app.js (VERSION)";
  var p = location.pathname;
  document.getElementById("route-out").textContent =
    p.indexOf("/app/") === 0 ? "client route: " + p.slice(5) : "home page";
  fetch("/data/info.json").then(function (r) { return r.json(); }).then(function (d) {
    document.getElementById("data-out").textContent = "data: " + d.message;
  });
})();
`

// writeSite writes the test site: HTML, CSS, JS, an image, JSON data, a 404 page and
// ws-resources.json with a client-side route, a redirect and headers.
func writeSite(t *testing.T, dir, version string) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for y := range 64 {
		for x := range 64 {
			img.Set(x, y, color.RGBA{R: uint8(40 + 2*x), G: uint8(120 + y), B: 200, A: 255})
		}
	}
	var pngBuf bytes.Buffer
	if err := png.Encode(&pngBuf, img); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"index.html":     []byte(siteIndex),
		"css/site.css":   []byte(siteCSS),
		"js/app.js":      []byte(strings.ReplaceAll(siteJS, "VERSION", version)),
		"img/logo.png":   pngBuf.Bytes(),
		"data/info.json": []byte(`{"message": "loaded with fetch() from the same site"}`),
		"404.html":       []byte(`<!doctype html><title>not found</title><h1 id="nf">This Floe site has no such page.</h1>`),
		site.ResourcesFile: []byte(`{
  "site_name": "Floe browser test",
  "routes": {"/app/*": "/index.html"},
  "redirects": {"/old": {"location": "/app/from-redirect", "status_code": 302}},
  "headers": {"/data/info.json": {"Cache-Control": "no-store"}},
  "ignore": ["/drafts/*"]
}`),
		"drafts/secret.html": []byte("not published"),
	}
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

type siteCLIOutput struct {
	SiteObjectID   string   `json:"siteObjectId"`
	URL            string   `json:"url"`
	ManifestBlobID string   `json:"manifestBlobId"`
	Stored         []string `json:"stored"`
	Kept           []string `json:"kept"`
	Removed        []string `json:"removed"`
	Quilts         []struct {
		QuiltID string `json:"quiltId"`
		Patches int    `json:"patches"`
	} `json:"quilts"`
	Extended  []string `json:"extended"`
	EndEpoch  uint32   `json:"endEpoch"`
	Unchanged bool     `json:"unchanged"`
}

// TestSite publishes a site with the CLI on a devnet and loads it through the portal in
// headless Chromium: the rendered DOM (text only its script writes, its stylesheet, its image,
// data it fetches, a client-side route, a redirect, its 404 page), screenshots, the isolation of
// two sites' origins, and an update under the same URL. Screenshots go to -site.screenshots, or
// the test's temporary directory.
func TestSite(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a devnet and Chromium")
	}
	browser := browsertest.Start(t) // skips, naming chromium, when it is not installed
	net := startPortalNet(t, 4, 100, 1024)
	info := net.Info()
	if info.Portal == "" || info.PortalPid == 0 {
		t.Fatalf("devnet.json has no portal: %+v", info)
	}
	cfg := []string{"--config", info.ClientConfig}
	shots := *screenshots
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	writeSite(t, dir, "v1")
	var pub siteCLIOutput
	if err := json.Unmarshal(floe(t, append([]string{"site", "publish", dir, "--epochs", "2", "--json"}, cfg...)...), &pub); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(pub.URL)
	if err != nil || !strings.HasSuffix(u.Hostname(), ".localhost") || len(pub.Stored) != 6 {
		t.Fatalf("site publish: %+v (%v)", pub, err)
	}
	t.Logf("site %s published at %s", pub.SiteObjectID, pub.URL)
	// As Walrus's site-builder, publish records the site in the directory's ws-resources.json.
	if ws, err := site.ReadWSResources(os.DirFS(dir)); err != nil || ws.ObjectID != pub.SiteObjectID || ws.SiteName != "Floe browser test" || ws.Routes["/app/*"] != "/index.html" {
		t.Fatalf("ws-resources.json after publish: %+v %v", ws, err)
	}

	page := browser.NewPage(t)
	shot := func(name string) {
		t.Helper()
		p := filepath.Join(shots, name)
		if err := page.Screenshot(p); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", p)
	}
	must := func(v string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}

	// The home page, with its stylesheet, script, image and fetched data.
	if status, err := page.Navigate(pub.URL); err != nil || status != 200 {
		t.Fatalf("home page: %d %v", status, err)
	}
	must(page.WaitText("#js-out", "Rendered by app.js (v1)"))
	must(page.WaitText("#data-out", "data: loaded with fetch() from the same site"))
	if got := must(page.Text("#route-out")); got != "home page" {
		t.Fatalf("#route-out = %q", got)
	}
	if got := must(page.Text("#static")); got != "Static text from index.html." {
		t.Fatalf("#static = %q", got)
	}
	if c, err := browsertest.Eval[string](page, `getComputedStyle(document.getElementById("title")).color`); err != nil || c != "rgb(20, 90, 160)" {
		t.Fatalf("the stylesheet did not apply: %q %v", c, err)
	}
	if w, err := browsertest.Eval[int](page, `new Promise(function (ok) { var i = document.getElementById("logo"); if (i.complete) ok(i.naturalWidth); else i.onload = function () { ok(i.naturalWidth); }; })`); err != nil || w != 64 {
		t.Fatalf("the image did not load: width %d %v", w, err)
	}
	shot("site-home.png")

	// A client-side route: the portal serves index.html, the script renders the route.
	if status, err := page.Navigate(pub.URL + "app/settings/profile"); err != nil || status != 200 {
		t.Fatalf("route: %d %v", status, err)
	}
	must(page.WaitText("#route-out", "client route: settings/profile"))
	must(page.WaitText("#js-out", "Rendered by app.js (v1)"))
	shot("site-route.png")

	// A redirect, followed by the browser to a route.
	if _, err := page.Navigate(pub.URL + "old"); err != nil {
		t.Fatal(err)
	}
	must(page.WaitText("#route-out", "client route: from-redirect"))
	if p, err := browsertest.Eval[string](page, `location.pathname`); err != nil || p != "/app/from-redirect" {
		t.Fatalf("after the redirect: %q %v", p, err)
	}
	// The site's 404 page, with status 404; an ignored file was not published.
	for _, missing := range []string{"no/such/page", "drafts/secret.html"} {
		if status, err := page.Navigate(pub.URL + missing); err != nil || status != 404 {
			t.Fatalf("%s: %d %v", missing, status, err)
		}
		must(page.WaitText("#nf", "This Floe site has no such page."))
	}
	shot("site-404.png")
	if ex := page.Exceptions(); len(ex) != 0 {
		t.Fatalf("the site's pages threw: %v", ex)
	}

	// HTTP details the browser does not show: types, caching, ranges.
	checkHTTP(t, pub.URL)

	// Another site has its own origin: a page of the first cannot read it.
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "index.html"), []byte(`<!doctype html><p id="secret">other site's secret</p>`), 0o644); err != nil {
		t.Fatal(err)
	}
	var pub2 siteCLIOutput
	if err := json.Unmarshal(floe(t, append([]string{"site", "publish", other, "--json"}, cfg...)...), &pub2); err != nil {
		t.Fatal(err)
	}
	if _, err := page.Navigate(pub.URL); err != nil {
		t.Fatal(err)
	}
	got, err := browsertest.Eval[string](page, `fetch(`+jsString(pub2.URL)+`).then(function (r) { return r.text(); }).then(function (t) { return "read: " + t; }, function (e) { return "blocked: " + e.name; })`)
	if err != nil || !strings.HasPrefix(got, "blocked") {
		t.Fatalf("a page of one site read another site: %q %v", got, err)
	}
	got, err = browsertest.Eval[string](page, `new Promise(function (ok) {
  var f = document.createElement("iframe");
  f.src = `+jsString(pub2.URL)+`;
  f.onload = function () { try { ok("read: " + f.contentDocument.body.textContent); } catch (e) { ok("blocked: " + e.name); } };
  document.body.appendChild(f);
})`)
	if err != nil || !strings.HasPrefix(got, "blocked") {
		t.Fatalf("a page of one site reached into another's frame: %q %v", got, err)
	}

	// An update stores only what changed, under the same URL: one quilt of one file and a
	// manifest, two blob objects more for the wallet. It reaches two epochs further, so the
	// quilt of the five kept files is extended with it.
	ccfg, err := client.LoadConfig(info.ClientConfig)
	if err != nil {
		t.Fatal(err)
	}
	wc, err := client.New(context.Background(), *ccfg)
	if err != nil {
		t.Fatal(err)
	}
	defer wc.Close()
	owned := func() []client.Blob {
		t.Helper()
		bs, err := wc.ListBlobs(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		return bs
	}
	before := len(owned())
	writeSite(t, dir, "v2")
	var upd siteCLIOutput
	if err := json.Unmarshal(floe(t, append([]string{"site", "update", dir, "--site", pub.SiteObjectID, "--epochs", "4", "--json"}, cfg...)...), &upd); err != nil {
		t.Fatal(err)
	}
	if upd.URL != pub.URL || len(upd.Stored) != 1 || upd.Stored[0] != "/js/app.js" || len(upd.Kept) != 5 || len(upd.Removed) != 0 ||
		len(upd.Quilts) != 1 || upd.Quilts[0].Patches != 1 || upd.Unchanged || len(upd.Extended) != 1 || upd.Extended[0] != pub.Quilts[0].QuiltID {
		t.Fatalf("site update: %+v (published: %+v)", upd, pub)
	}
	if n := len(owned()); n != before+2 {
		t.Fatalf("the update added %d blob objects to the wallet, want 2 (a quilt and a manifest)", n-before)
	}
	for _, b := range owned() {
		if (b.BlobID.String() == pub.Quilts[0].QuiltID || b.BlobID.String() == upd.Quilts[0].QuiltID || b.BlobID.String() == upd.ManifestBlobID) && b.Storage.End < upd.EndEpoch {
			t.Fatalf("blob %s ends at epoch %d, before the site's %d", b.BlobID, b.Storage.End, upd.EndEpoch)
		}
	}
	// Nothing changed: nothing is stored.
	var same siteCLIOutput
	if err := json.Unmarshal(floe(t, append([]string{"site", "update", dir, "--site", pub.SiteObjectID, "--json"}, cfg...)...), &same); err != nil {
		t.Fatal(err)
	}
	if !same.Unchanged || len(same.Stored) != 0 || len(same.Quilts) != 0 || len(same.Kept) != 6 || same.ManifestBlobID != upd.ManifestBlobID || len(owned()) != before+2 {
		t.Fatalf("an update without changes: %+v", same)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := page.Navigate(pub.URL); err != nil {
			t.Fatal(err)
		}
		if text, _ := page.WaitText("#js-out", "Rendered by app.js"); strings.Contains(text, "(v2)") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the update did not show within a minute")
		}
		time.Sleep(time.Second)
	}
	shot("site-updated.png")

	// A file removed: a new manifest only. deploy finds the site in ws-resources.json.
	before = len(owned())
	if err := os.Remove(filepath.Join(dir, "404.html")); err != nil {
		t.Fatal(err)
	}
	var rm siteCLIOutput
	if err := json.Unmarshal(floe(t, append([]string{"site", "deploy", dir, "--json"}, cfg...)...), &rm); err != nil {
		t.Fatal(err)
	}
	if rm.SiteObjectID != pub.SiteObjectID || rm.Unchanged || len(rm.Stored) != 0 || len(rm.Quilts) != 0 || len(rm.Removed) != 1 || rm.Removed[0] != "/404.html" || len(owned()) != before+1 {
		t.Fatalf("an update removing a file: %+v", rm)
	}
}

// checkHTTP checks the portal's answers to plain HTTP requests for the site at siteURL.
func checkHTTP(t *testing.T, siteURL string) {
	t.Helper()
	u, _ := url.Parse(siteURL)
	get := func(path string, hdr map[string]string) (int, http.Header, []byte) {
		t.Helper()
		// The request goes to 127.0.0.1 with the site's host name, as a browser's does.
		req, err := http.NewRequest("GET", "http://127.0.0.1:"+u.Port()+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = u.Host
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		return resp.StatusCode, resp.Header, buf.Bytes()
	}
	for path, ct := range map[string]string{"/": "text/html; charset=utf-8", "/css/site.css": "text/css; charset=utf-8",
		"/js/app.js": "text/javascript; charset=utf-8", "/img/logo.png": "image/png", "/data/info.json": "application/json"} {
		code, hdr, _ := get(path, nil)
		if code != 200 || hdr.Get("Content-Type") != ct || hdr.Get("ETag") == "" || hdr.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("GET %s: %d %v", path, code, hdr)
		}
	}
	if _, hdr, _ := get("/data/info.json", nil); hdr.Get("Cache-Control") != "no-store" {
		t.Fatalf("ws-resources.json headers not served: %v", hdr)
	}
	code, hdr, body := get("/img/logo.png", nil)
	if code != 200 || !bytes.HasPrefix(body, []byte("\x89PNG")) {
		t.Fatalf("GET /img/logo.png: %d", code)
	}
	if c, _, _ := get("/img/logo.png", map[string]string{"If-None-Match": hdr.Get("ETag")}); c != http.StatusNotModified {
		t.Fatalf("If-None-Match: %d", c)
	}
	if c, h, b := get("/img/logo.png", map[string]string{"Range": "bytes=0-7"}); c != http.StatusPartialContent || !bytes.Equal(b, body[:8]) ||
		h.Get("Content-Range") != fmt.Sprintf("bytes 0-7/%d", len(body)) {
		t.Fatalf("range: %d %v", c, h)
	}
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
