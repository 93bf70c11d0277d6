package archtest

import (
	"os/exec"
	"slices"
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
	// fmt, so it can only be checked this way); a path ending in "/..." forbids every package
	// under it.
	direct []string
	// except lists packages exempt from forbidden (an allowed package under a forbidden
	// prefix); the packages they depend on are still checked.
	except []string
}

var (
	ioAndNet  = []string{"net/http", "net", "os/exec", "github.com/cockroachdb/pebble", "github.com/cometbft/cometbft", "database/sql"}
	consensus = []string{"github.com/cometbft/cometbft"}
)

var rules = []rule{
	{"redstuff", ioAndNet, "encoding is pure computation", []string{"os"}, nil},
	{"internal/rs16", ioAndNet, "the erasure code is pure computation", []string{"os"}, nil},
	{"internal/merkle", ioAndNet, "Merkle trees are pure computation", []string{"os"}, nil},
	{"blob", ioAndNet, "the blob vocabulary has no I/O", []string{"os"}, nil},
	{"quilt", ioAndNet, "the quilt format is pure computation", []string{"os"}, nil},
	{"internal/bcs", ioAndNet, "BCS is pure encoding", []string{"os"}, nil},
	{"internal/controlplane", ioAndNet, "the state machine is deterministic: no I/O", []string{"os", "io/fs", "math/rand", "math/rand/v2"}, nil},
	{pkg: "client/...", forbidden: []string{module + "/internal/storagenode", module + "/internal/controlplane", module + "/internal/nodestore"},
		why: "the SDK talks to nodes and the control plane over their APIs only (api/ types), never to the state machine or its drivers", except: []string{module + "/internal/controlplane/cpclient"}},
	{pkg: "internal/controlplane/cpclient", forbidden: []string{module + "/internal/controlplane"},
		why: "the control-plane client speaks the wire vocabulary of api/controlplane, not the state machine's types", except: []string{module + "/internal/controlplane/cpclient"}},
	{pkg: "api/...", forbidden: []string{module + "/internal/controlplane", module + "/internal/crypto", module + "/internal/protocol", module + "/internal/storagenode", module + "/internal/nodestore"},
		why: "the wire vocabulary owns its types: it imports nothing internal but through the public blob package", direct: []string{module + "/internal/..."}},
	{"internal/storagenode/...", consensus, "storage nodes never import CometBFT", nil, nil},
	{"internal/nodestore/...", consensus, "storage nodes never import CometBFT", nil, nil},
	{pkg: "internal/storagenode/engine/...", forbidden: []string{module + "/internal/storagenode/byzantine"},
		why:    "a storage node's domain code knows no HTTP (routes, status codes and parsing live in internal/storagenode)",
		direct: []string{"net/http", "net/http/httptest", "mime", "mime/multipart", module + "/internal/storagenode"}},
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
				if forbiddenMatch(dep, r.forbidden) && !slices.Contains(r.except, dep) {
					t.Errorf("%s depends on %s: %s", pkg, dep, r.why)
				}
			}
			for _, imp := range goList(t, "-f", `{{join .Imports " "}}`, pkg) {
				for _, d := range r.direct {
					if imp == d || (strings.HasSuffix(d, "/...") && strings.HasPrefix(imp, strings.TrimSuffix(d, "..."))) {
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
