package cometbft

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	abci "github.com/cometbft/cometbft/abci/types"
	"golang.org/x/crypto/blake2b"

	"github.com/floelabs/floe/internal/controlplane"
	"github.com/floelabs/floe/internal/controlplane/eventlog"
	"github.com/floelabs/floe/internal/controlplane/snapfile"
)

// State sync: a validator (or full node) that starts with no state, for example one that fell
// behind the blocks its peers keep, restores the Floe state of a recent height from a peer's
// snapshot (CometBFT verifies that height's app hash with its light client and fetches the
// chunks), then block-syncs from there. See PrepareStateSync.

// snapshotFormat is the format of the snapshots offered: snapshot.json (package snapfile),
// cut in chunks of snapshotChunk bytes; the snapshot's hash is Blake2b-256 of the whole file.
const (
	snapshotFormat = 1
	snapshotChunk  = 4 << 20
)

// restoring is a snapshot being received.
type restoring struct {
	snap    *abci.Snapshot
	appHash []byte
	buf     bytes.Buffer
	next    uint32
}

// ListSnapshots offers the newest snapshots.
func (a *App) ListSnapshots(context.Context, *abci.RequestListSnapshots) (*abci.ResponseListSnapshots, error) {
	a.smu.Lock()
	defer a.smu.Unlock()
	out := &abci.ResponseListSnapshots{}
	for _, s := range a.served {
		out.Snapshots = append(out.Snapshots, &abci.Snapshot{Height: s.height, Format: snapshotFormat,
			Chunks: uint32((s.size + snapshotChunk - 1) / snapshotChunk), Hash: bytes.Clone(s.hash[:])})
	}
	return out, nil
}

// LoadSnapshotChunk returns a chunk of an offered snapshot (none if it is no longer offered).
func (a *App) LoadSnapshotChunk(_ context.Context, req *abci.RequestLoadSnapshotChunk) (*abci.ResponseLoadSnapshotChunk, error) {
	a.smu.Lock()
	var path string
	var size int64
	for _, s := range a.served {
		if s.height == req.Height {
			path, size = s.path, s.size
		}
	}
	a.smu.Unlock()
	if path == "" || req.Format != snapshotFormat {
		return &abci.ResponseLoadSnapshotChunk{}, nil
	}
	off := int64(req.Chunk) * snapshotChunk
	if off >= size {
		return &abci.ResponseLoadSnapshotChunk{}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return &abci.ResponseLoadSnapshotChunk{}, nil // replaced meanwhile
	}
	defer f.Close()
	buf := make([]byte, min(snapshotChunk, size-off))
	if _, err := f.ReadAt(buf, off); err != nil {
		return &abci.ResponseLoadSnapshotChunk{}, nil
	}
	return &abci.ResponseLoadSnapshotChunk{Chunk: buf}, nil
}

// OfferSnapshot accepts a snapshot of the offered format while the application has no state.
func (a *App) OfferSnapshot(_ context.Context, req *abci.RequestOfferSnapshot) (*abci.ResponseOfferSnapshot, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.committed != 0 {
		return &abci.ResponseOfferSnapshot{Result: abci.ResponseOfferSnapshot_ABORT}, nil
	}
	if req.Snapshot == nil || req.Snapshot.Format != snapshotFormat {
		return &abci.ResponseOfferSnapshot{Result: abci.ResponseOfferSnapshot_REJECT_FORMAT}, nil
	}
	if req.Snapshot.Chunks == 0 || uint64(req.Snapshot.Chunks)*snapshotChunk > 1<<40 {
		return &abci.ResponseOfferSnapshot{Result: abci.ResponseOfferSnapshot_REJECT}, nil
	}
	a.restoring = &restoring{snap: req.Snapshot, appHash: bytes.Clone(req.AppHash)}
	a.log.Info("state sync: restoring a snapshot", "height", req.Snapshot.Height, "chunks", req.Snapshot.Chunks)
	return &abci.ResponseOfferSnapshot{Result: abci.ResponseOfferSnapshot_ACCEPT}, nil
}

// ApplySnapshotChunk collects the chunks in order; with the last, it checks the snapshot
// against its hash and the app hash CometBFT verified for its height, and installs it.
func (a *App) ApplySnapshotChunk(_ context.Context, req *abci.RequestApplySnapshotChunk) (*abci.ResponseApplySnapshotChunk, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.restoring
	if r == nil {
		return &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_ABORT}, nil
	}
	if req.Index != r.next {
		return &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_RETRY, RefetchChunks: []uint32{r.next}}, nil
	}
	r.buf.Write(req.Chunk)
	r.next++
	if r.next < r.snap.Chunks {
		return &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_ACCEPT}, nil
	}
	a.restoring = nil
	reject := func(why string, args ...any) (*abci.ResponseApplySnapshotChunk, error) {
		a.log.Warn("state sync: snapshot rejected: "+fmt.Sprintf(why, args...), "height", r.snap.Height, "peer", req.Sender)
		return &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_REJECT_SNAPSHOT, RejectSenders: []string{req.Sender}}, nil
	}
	b := r.buf.Bytes()
	if h := blake2b.Sum256(b); !bytes.Equal(h[:], r.snap.Hash) {
		return reject("hash %x, offered as %x", h, r.snap.Hash)
	}
	snap, err := snapfile.Decode(b)
	if err != nil {
		return reject("%v", err)
	}
	st, err := controlplane.Restore(snap.State)
	if err != nil {
		return reject("%v", err)
	}
	hash := st.Hash()
	if st.Height() != r.snap.Height || snap.Height != r.snap.Height || !bytes.Equal(hash[:], r.appHash) || snap.AppHash != hash {
		return reject("state at height %d with app hash %s, CometBFT verified %x at %d", st.Height(), hash, r.appHash, r.snap.Height)
	}
	if st.Params() != a.genesis.Params {
		return reject("snapshot of chain %q", st.Params().ChainID)
	}
	if err := snapfile.WriteBytes(a.dir, b); err != nil {
		return nil, fmt.Errorf("cometbft: %w", err)
	}
	// The event history starts at the snapshot: older events are not available here.
	if err := a.elog.Close(); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(filepath.Join(a.dir, "events")); err != nil {
		return nil, fmt.Errorf("cometbft: %w", err)
	}
	elog, err := eventlog.Open(filepath.Join(a.dir, "events"), st.EventSeq(), &eventlog.Options{SegmentBytes: a.eventSegmentBytes})
	if err != nil {
		a.failed = err
		return nil, err
	}
	a.elog = elog
	a.state, a.appHash, a.committed, a.snapHeight = st, hash, st.Height(), st.Height()
	if err := a.serveSnapshot(a.snapHeight, blake2b.Sum256(b), int64(len(b))); err != nil {
		a.log.Warn("offering the restored snapshot", "err", err)
	}
	close(a.notify)
	a.notify = make(chan struct{})
	a.log.Info("state sync: snapshot restored", "height", st.Height(), "app_hash", hash.String(), "event_seq", st.EventSeq())
	return &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_ACCEPT}, nil
}
