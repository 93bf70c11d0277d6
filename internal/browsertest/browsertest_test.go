package browsertest

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBrowser loads pages from a local server through a *.localhost host name and checks what
// the helpers report: script-rendered text, evaluation, status codes, exceptions, screenshots.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, `<!doctype html><title>t</title><p id="host"></p><p id="out">static</p>
<script>
document.getElementById("host").textContent = location.hostname;
setTimeout(function () { document.getElementById("out").textContent = "rendered by script"; }, 100);
</script>`)
		case "/throws":
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, `<!doctype html><p id="x">x</p><script>throw new Error("boom-from-page")</script>`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))

	b := Start(t)
	p := b.NewPage(t)
	status, err := p.Navigate(fmt.Sprintf("http://abc.localhost:%s/", port))
	if err != nil || status != 200 {
		t.Fatalf("navigate: %d %v", status, err)
	}
	if _, err := p.WaitText("#out", "rendered by script"); err != nil {
		t.Fatal(err)
	}
	if host, err := p.Text("#host"); err != nil || host != "abc.localhost" {
		t.Fatalf("host %q %v", host, err)
	}
	n, err := Eval[int](p, `document.querySelectorAll("p").length`)
	if err != nil || n != 2 {
		t.Fatalf("eval: %d %v", n, err)
	}
	shot := filepath.Join(t.TempDir(), "page.png")
	if err := p.Screenshot(shot); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(shot); err != nil || !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) || len(b) < 1000 {
		t.Fatalf("screenshot: %d bytes, %v", len(b), err)
	}
	if len(p.Exceptions()) != 0 {
		t.Fatalf("exceptions on a clean page: %v", p.Exceptions())
	}
	if status, err := p.Navigate(srv.URL + "/missing"); err != nil || status != 404 {
		t.Fatalf("missing page: %d %v", status, err)
	}
	if _, err := p.Navigate(srv.URL + "/throws"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.WaitText("#x", "x"); err != nil {
		t.Fatal(err)
	}
	found := false
	for range 50 {
		for _, e := range p.Exceptions() {
			found = found || strings.Contains(e, "boom-from-page")
		}
		if found {
			break
		}
		p.WaitText("#x", "x") // let events arrive
	}
	if !found {
		t.Fatalf("the uncaught exception was not recorded: %v", p.Console())
	}
}
