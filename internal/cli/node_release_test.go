//go:build !floetest

package cli

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
)

const byzantinePkg = "github.com/floelabs/floe/internal/storagenode/byzantine"

// TestReleaseRejectsByzantine: the default build's `floe node run` has no --byzantine flag
// (it exits with a usage error before doing anything), and the floe command does not link
// the lying code at all; only a floetest build does.
func TestReleaseRejectsByzantine(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), []string{"node", "run", "--byzantine", "corrupt-slivers", "--data-dir", t.TempDir()}, &stdout, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "flag provided but not defined: -byzantine") {
		t.Fatalf("floe node run --byzantine: exit %d, stderr %q; want a usage error naming the flag", code, stderr.String())
	}
	deps := func(tags ...string) string {
		args := append([]string{"list", "-deps"}, tags...)
		out, err := exec.Command("go", append(args, "github.com/floelabs/floe/cmd/floe")...).Output()
		if err != nil {
			t.Fatalf("go list: %v", err)
		}
		return string(out)
	}
	if strings.Contains(deps(), byzantinePkg) {
		t.Fatalf("the release floe binary links %s", byzantinePkg)
	}
	if !strings.Contains(deps("-tags", "floetest"), byzantinePkg) {
		t.Fatalf("the floetest build does not link %s: the check above proves nothing", byzantinePkg)
	}
}
