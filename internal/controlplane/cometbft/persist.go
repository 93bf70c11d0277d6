package cometbft

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/crypto/blake2b"

	"github.com/floelabs/floe/internal/controlplane/snapfile"
)

func loadSnapshot(dir string) (*snapfile.Snapshot, error) {
	s, err := snapfile.Load(dir)
	if errors.Is(err, snapfile.ErrMalformed) {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if err != nil {
		return nil, fmt.Errorf("cometbft: %w", err)
	}
	return s, nil
}

// writeSnapshot syncs the event log, writes the committed state, offers it to peers that
// state-sync, and prunes the events it makes unnecessary beyond the retention window; the
// caller holds a.mu.
func (a *App) writeSnapshot() error {
	if err := a.elog.Sync(); err != nil {
		return err
	}
	b, err := snapfile.Encode(a.state, a.appHash)
	if err != nil {
		return fmt.Errorf("cometbft: %w", err)
	}
	if err := snapfile.WriteBytes(a.dir, b); err != nil {
		return fmt.Errorf("cometbft: %w", err)
	}
	a.snapHeight = a.state.Height()
	// Failures below keep more than needed, nothing less.
	if err := a.serveSnapshot(a.snapHeight, blake2b.Sum256(b), int64(len(b))); err != nil {
		a.log.Warn("offering the snapshot to state sync", "height", a.snapHeight, "err", err)
	}
	var before uint64
	if seq := a.state.EventSeq(); seq > a.retainEvents {
		before = seq - a.retainEvents
	}
	_, err = a.elog.Prune(before)
	return err
}

// servedSnapshot is a snapshot offered to peers that state-sync: a hard link to a
// snapshot.json written at height, in the statesync directory.
type servedSnapshot struct {
	height uint64
	hash   [32]byte
	size   int64
	path   string
}

// keepServed is how many snapshots are offered (the newest). A peer that state-syncs picks
// a snapshot from a listing, verifies a light-client trust point for its height, then fetches
// its chunks; CometBFT keeps asking for a snapshot it picked even after every peer stopped
// offering it, so it must stay offered through several snapshot intervals, not one (with 2,
// a validator that took ~20 blocks to reach the chunk fetch never caught up).
const keepServed = 4

func (a *App) statesyncDir() string { return filepath.Join(a.dir, "statesync") }

// serveSnapshot offers the snapshot.json just written at height to state sync.
func (a *App) serveSnapshot(height uint64, hash [32]byte, size int64) error {
	dir := a.statesyncDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cometbft: %w", err)
	}
	path := filepath.Join(dir, fmt.Sprintf("%020d.json", height))
	os.Remove(path)
	if err := os.Link(filepath.Join(a.dir, snapfile.Name), path); err != nil {
		return fmt.Errorf("cometbft: %w", err)
	}
	a.smu.Lock()
	defer a.smu.Unlock()
	kept := a.served[:0]
	for _, s := range a.served {
		if s.height != height {
			kept = append(kept, s)
		}
	}
	a.served = append(kept, servedSnapshot{height: height, hash: hash, size: size, path: path})
	for len(a.served) > keepServed {
		os.Remove(a.served[0].path)
		a.served = a.served[1:]
	}
	return nil
}

// serveExisting offers the snapshot.json found at start (the statesync directory is rebuilt).
func (a *App) serveExisting(height uint64) error {
	if err := os.RemoveAll(a.statesyncDir()); err != nil {
		return fmt.Errorf("cometbft: %w", err)
	}
	if height == 0 {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(a.dir, snapfile.Name))
	if err != nil {
		return fmt.Errorf("cometbft: %w", err)
	}
	return a.serveSnapshot(height, blake2b.Sum256(b), int64(len(b)))
}
