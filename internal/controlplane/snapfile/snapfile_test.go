package snapfile_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/floelabs/floe/internal/controlplane"
	"github.com/floelabs/floe/internal/controlplane/cptest"
	"github.com/floelabs/floe/internal/controlplane/snapfile"
)

// TestWriteLoad: no snapshot loads as nil; a written one loads with the state's height and
// hash and restores to the same state; a garbled one is ErrMalformed.
func TestWriteLoad(t *testing.T) {
	dir := t.TempDir()
	if s, err := snapfile.Load(dir); s != nil || err != nil {
		t.Fatalf("empty dir: %v, %v", s, err)
	}
	net := cptest.NewNetwork(10, 2, 1, 1<<40, nil, time.Unix(1_700_000_000, 0))
	st, _, err := controlplane.NewState(net.Genesis)
	if err != nil {
		t.Fatal(err)
	}
	if err := snapfile.Write(dir, st, st.Hash()); err != nil {
		t.Fatal(err)
	}
	s, err := snapfile.Load(dir)
	if err != nil || s == nil || s.Height != st.Height() || s.AppHash != st.Hash() {
		t.Fatalf("loaded %+v, %v", s, err)
	}
	back, err := controlplane.Restore(s.State)
	if err != nil || back.Hash() != st.Hash() {
		t.Fatalf("restored state differs: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, snapfile.Name), []byte("{\"height\": "), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := snapfile.Load(dir); !errors.Is(err, snapfile.ErrMalformed) {
		t.Fatalf("garbled snapshot: %v", err)
	}
}
