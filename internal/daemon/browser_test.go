package daemon

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// scriptPage is an HTML blob whose script, if it runs, rewrites the page and tries to spend
// the publisher's wallet from the aggregator's origin.
const scriptPage = `<!DOCTYPE html><html><body><p id="p">static</p><script>
document.getElementById("p").textContent = "script ran";
fetch("/v1/blobs?epochs=1", {method: "PUT", body: "spent from the aggregator's origin"});
</script></body></html>`

// dumpDOM loads url in headless Chromium and returns the DOM after its scripts ran.
func dumpDOM(t *testing.T, chromium, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--user-data-dir="+t.TempDir(), "--virtual-time-budget=2000", "--dump-dom", url).Output()
	if err != nil {
		t.Errorf("chromium --dump-dom %s: %v", url, err)
	}
	return string(out)
}

// An uploaded HTML page served by the aggregator does not run its scripts in a browser: the
// Content-Security-Policy sandbox. The same page served without the policy does (so that the
// test can tell).
func TestBrowserSandbox(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("SKIPPED: needs the chromium browser (scripts/setup installs Debian's chromium package)")
	}
	m := newMem()
	srv := newTestServer(t, m, nil)
	id := m.put([]byte(scriptPage))

	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(scriptPage))
	}))
	defer plain.Close()
	// Both pages load at once (a browser start takes seconds on a busy machine).
	var plainDOM string
	done := make(chan struct{})
	go func() {
		defer close(done)
		plainDOM = dumpDOM(t, chromium, plain.URL)
	}()
	dom := dumpDOM(t, chromium, srv.URL+"/v1/blobs/"+id.String())
	<-done
	if !strings.Contains(plainDOM, `<p id="p">script ran</p>`) {
		t.Fatalf("the page's script did not run even without the sandbox; the browser check proves nothing:\n%s", plainDOM)
	}
	if !strings.Contains(dom, `<p id="p">static</p>`) {
		t.Errorf("the blob's script ran on the aggregator's origin:\n%s", dom)
	}
	if n := m.storeCalls(); n != 0 {
		t.Errorf("the blob's page stored %d blobs through the publisher", n)
	}
}
