package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/floelabs/floe"

// rule forbids packages matching pkg (a package path, or a prefix ending in "/...") from
// depending, directly or not, on any package with one of the forbidden prefixes.
type rule struct {
	pkg       string
	forbidden []string
	why       string
	// direct lists packages that may not be imported directly (os, say, is a dependency of
	// fmt, so it can only be checked this way).
	direct []string
}

var (
	ioAndNet  = []string{"net/http", "net", "os/exec", "github.com/cockroachdb/pebble", "github.com/cometbft/cometbft", "database/sql"}
	consensus = []string{"github.com/cometbft/cometbft"}
)

var rules = []rule{
	{"redstuff", ioAndNet, "encoding is pure computation", []string{"os"}},
	{"internal/rs16", ioAndNet, "the erasure code is pure computation", []string{"os"}},
	{"internal/merkle", ioAndNet, "Merkle trees are pure computation", []string{"os"}},
	{"blob", ioAndNet, "the blob vocabulary has no I/O", []string{"os"}},
	{"quilt", ioAndNet, "the quilt format is pure computation", []string{"os"}},
	{"internal/bcs", ioAndNet, "BCS is pure encoding", []string{"os"}},
	{"internal/controlplane", ioAndNet, "the state machine is deterministic: no I/O", []string{"os", "io/fs", "math/rand", "math/rand/v2"}},
	{"client/...", []string{module + "/internal/storagenode", module + "/internal/controlplane/embedded", module + "/internal/controlplane/cometbft", module + "/internal/nodestore"}, "the SDK talks to nodes and the control plane over their APIs only", nil},
	{"internal/storagenode/...", consensus, "storage nodes never import CometBFT", nil},
	{"internal/nodestore/...", consensus, "storage nodes never import CometBFT", nil},
}

// goList returns the packages matching pattern, or nil if none exist yet.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok && strings.Contains(string(ee.Stderr), "matched no packages") {
			return nil
		}
		if ee, ok := err.(*exec.ExitError); ok && strings.Contains(string(ee.Stderr), "no Go files") {
			return nil
		}
		if ee, ok := err.(*exec.ExitError); ok && strings.Contains(string(ee.Stderr), "cannot find") {
			return nil
		}
		t.Fatalf("go list %v: %v", args, err)
	}
	return strings.Fields(string(out))
}

func forbiddenMatch(dep string, forbidden []string) bool {
	for _, f := range forbidden {
		if dep == f || strings.HasPrefix(dep, f+"/") {
			return true
		}
	}
	return false
}

func TestImportDirection(t *testing.T) {
	checked := 0
	for _, r := range rules {
		for _, pkg := range goList(t, module+"/"+r.pkg) {
			checked++
			for _, dep := range goList(t, "-deps", pkg) {
				if forbiddenMatch(dep, r.forbidden) {
					t.Errorf("%s depends on %s: %s", pkg, dep, r.why)
				}
			}
			for _, imp := range goList(t, "-f", `{{join .Imports " "}}`, pkg) {
				for _, d := range r.direct {
					if imp == d {
						t.Errorf("%s imports %s: %s", pkg, imp, r.why)
					}
				}
			}
		}
	}
	if checked < 5 {
		t.Fatalf("only %d packages checked: the rules no longer match the layout", checked)
	}
}
