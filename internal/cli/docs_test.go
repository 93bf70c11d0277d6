package cli

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/floelabs/floe/internal/freeaddr"
)

// -cli.docs runs the Walrus docs examples (about two minutes); .ci/run does.
var docsExamples = flag.Bool("cli.docs", false, "run scripts/walrus-docs-examples.sh against a devnet")

// TestWalrusDocsExamples runs scripts/walrus-docs-examples.sh, the CLI and curl examples of
// Walrus's docs with walrus replaced by floe, against a devnet. floe is this test binary
// (TestMain), so the script needs no build.
func TestWalrusDocsExamples(t *testing.T) {
	if !*docsExamples {
		t.Skip("the Walrus docs examples run with -cli.docs (.ci/run)")
	}
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("SKIPPED: needs %s (scripts/setup installs Debian's curl and jq packages)", tool)
		}
	}
	info := startDevnet(t)
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	daemonAddr := freeaddr.For(t)
	script, err := filepath.Abs(filepath.Join("..", "..", "scripts", "walrus-docs-examples.sh"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", script)
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "FLOE="+bin, "CONFIG="+info.ClientConfig, "PUBLISHER="+info.Daemon, "AGGREGATOR="+info.Daemon,
		"DAEMON_ADDR="+daemonAddr, "HOME="+home, "XDG_DATA_HOME="+filepath.Join(home, "data"), childEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	if !strings.Contains(string(out), " passed, 0 failed") {
		t.Fatalf("no summary line:\n%s", out)
	}
	t.Logf("%s", out[max(0, len(out)-300):])
}
