package e2e

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/floelabs/floe/internal/browsertest"
)

// -explorer.screenshots keeps the browser test's screenshots in a directory (default: the
// test's temporary directory, removed with it).
var screenshots = flag.String("explorer.screenshots", "", "directory for the explorer browser test's screenshots (default: the test's temp dir)")

// TestExplorerBrowser loads the explorer of a devnet (4 nodes, 40 shards) in headless
// Chromium: the overview counts 4 nodes, all up, with each node's challenge record and the
// rewards card; a blob stored through the daemon is found by typing its ID in the search box;
// a killed node is shown down by the page's own live refresh, without reloading. No script
// error and no CSP violation on the way; screenshots of the overview, the blob and the
// overview with the node down. Skips, naming chromium, where it is not installed (fails
// instead with FLOE_REQUIRE_CHROMIUM=1, as .ci/run sets).
func TestExplorerBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("devnet tests are not short")
	}
	browser := browsertest.Start(t)
	n := startNet(t, 4, 40)
	info := n.Info()
	b := storeBlob(t, info.Daemon, []byte(strings.Repeat("floe explorer in chromium ", 30000)))

	dir := *screenshots
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shoot := func(page *browsertest.Page, name string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := page.Screenshot(p); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", p)
	}
	must := func(text string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return text
	}

	page := browser.NewPage(t)
	// The daemon's root leads to the explorer.
	if status, err := page.Navigate(info.Daemon + "/"); err != nil || status != 200 {
		t.Fatalf("loading %s/: status %d, %v", info.Daemon, status, err)
	}
	if path, err := browsertest.Eval[string](page, `location.pathname`); err != nil || path != "/explorer/" {
		t.Fatalf("the daemon's root led to %q (%v)", path, err)
	}
	must(page.WaitText("#node-count", "4"))
	must(page.WaitText("#nodes-up", "4"))
	rows, err := browsertest.Eval[int](page, `document.querySelectorAll("#node-table tr.node.up").length`)
	if err != nil || rows != 4 {
		t.Fatalf("%d node rows shown up (%v)", rows, err)
	}
	// Every node's challenge record came from the control plane (not "unknown"), and the
	// rewards card shows the network's totals.
	cells, err := browsertest.Eval[[]string](page, `Array.from(document.querySelectorAll("#node-table tr.node td.challenge")).map(function (td) { return td.textContent.trim(); })`)
	if err != nil || len(cells) != 4 {
		t.Fatalf("challenge cells %q (%v)", cells, err)
	}
	for _, c := range cells {
		if !strings.Contains(c, "passed") || !strings.Contains(c, "failed") {
			t.Errorf("a node's challenge cell reads %q", c)
		}
	}
	must(page.WaitText("#rewards", "reward pool this epoch"))
	must(page.WaitText("#rewards", "stake slashed"))
	shoot(page, "explorer-overview.png")

	// Search by typing the blob ID into the box and pressing the button.
	if _, err := browsertest.Eval[bool](page, `(function () { document.getElementById("q").value = `+jsString(b.BlobID)+`; document.querySelector("form.search button").click(); return true; })()`); err != nil {
		t.Fatal(err)
	}
	must(page.WaitText("#readable-count", "40"))
	if path, err := browsertest.Eval[string](page, `location.pathname`); err != nil || path != "/explorer/blob/"+b.BlobID {
		t.Fatalf("the search led to %q (%v)", path, err)
	}
	if text := must(page.Text("main")); !strings.Contains(text, b.BlobID) || !strings.Contains(text, "certified") {
		t.Errorf("the blob page does not show the blob certified: %.400s", text)
	}
	shoot(page, "explorer-blob.png")

	// A killed node, shown down by the live refresh of the page already open.
	if status, err := page.Navigate(info.Explorer); err != nil || status != 200 {
		t.Fatalf("loading the overview: status %d, %v", status, err)
	}
	must(page.WaitText("#nodes-up", "4"))
	if _, err := browsertest.Eval[bool](page, `(function () { window.__floeNoReload = true; return true; })()`); err != nil {
		t.Fatal(err)
	}
	if err := n.Node(2).Kill(); err != nil {
		t.Fatal(err)
	}
	must(page.WaitText(`tr[data-node="node-02"] td:nth-child(2)`, "down"))
	must(page.WaitText("#nodes-up", "3"))
	if same, err := browsertest.Eval[bool](page, `window.__floeNoReload === true`); err != nil || !same {
		t.Errorf("the page was reloaded instead of refreshed in place (%v)", err)
	}
	shoot(page, "explorer-node-down.png")

	if ex := page.Exceptions(); len(ex) > 0 {
		t.Errorf("script errors: %q", ex)
	}
	for _, m := range page.Console() {
		if strings.Contains(m, "Content Security Policy") {
			t.Errorf("CSP violation: %s", m)
		}
	}
}

// jsString quotes s as a JavaScript string literal (s is a blob ID: URL-safe base64).
func jsString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
