package engine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	api "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/nodestore"
	"github.com/floelabs/floe/redstuff"
)

// Outcome is what an accepted upload did.
type Outcome int

// Upload outcomes.
const (
	// Stored: the node stored it.
	Stored Outcome = iota + 1
	// Buffered: the node holds it in its pending buffer until it sees the blob registered.
	Buffered
	// AlreadyHeld: the node held it already (stored or buffered).
	AlreadyHeld
)

// Upload says how an upload may be held: Pending lets the node buffer it for a blob it has
// not seen registered yet, accounted to Source (the uploader, by address) in the pending
// buffer's quotas.
type Upload struct {
	Pending bool
	Source  string
}

// Uploads accepts metadata and slivers: it checks each upload (registration, shard
// assignment, indices), verifies it against the metadata, and stores it, or buffers it for a
// blob the node has not yet seen registered.
type Uploads struct {
	*core
	// frameBufs recycles the payload buffers of batched uploads.
	frameBufs bufPool
	// mds keeps the decoded metadata of the blobs uploaded last.
	mds metadataCache
}

// MetadataLimit returns the largest metadata body for the current committee.
func (u *Uploads) MetadataLimit() (int64, error) {
	v, err := u.currentView()
	if err != nil {
		return 0, err
	}
	return api.MetadataLimit(v.nShards), nil
}

// SliverLimit returns the largest sliver body for the current committee: the largest primary
// sliver plus headroom.
func (u *Uploads) SliverLimit() (int64, error) {
	v, err := u.currentView()
	if err != nil {
		return 0, err
	}
	return sliverLimit(v.enc.Params()), nil
}

func sliverLimit(p redstuff.Params) int64 {
	return int64(p.PrimarySliverLen(redstuff.MaxSymbolSize)) + api.SliverBodyHeadroom
}

// checkPair checks a pair index against the view.
func checkPair(v *epochView, pair int) error {
	if pair < 0 || pair >= v.nShards {
		return fmt.Errorf("%w: %d (n = %d)", ErrBadPairIndex, pair, v.nShards)
	}
	return nil
}

// blobInfo returns the node's blob info (zero if none).
func (c *core) blobInfo(ctx context.Context, id blob.ID) (nodestore.BlobInfo, error) {
	info, err := c.store.BlobInfo(ctx, id)
	if errors.Is(err, nodestore.ErrNotFound) {
		return nodestore.BlobInfo{}, nil
	}
	return info, err
}

// DecodeMetadata decodes and verifies a metadata body for blob id.
func DecodeMetadata(id blob.ID, body []byte, p redstuff.Params) (*blob.MetadataWithID, error) {
	var m blob.Metadata
	if err := m.UnmarshalBCS(body); err != nil {
		return nil, fmt.Errorf("%w: metadata: %w", ErrMalformedBody, err)
	}
	md := &blob.MetadataWithID{ID: id, Metadata: m}
	if err := md.Verify(p); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidMetadata, err)
	}
	return md, nil
}

// PutMetadata verifies a metadata body and stores it (or buffers it, see Upload).
func (u *Uploads) PutMetadata(ctx context.Context, id blob.ID, body []byte, up Upload) (Outcome, error) {
	v, err := u.currentView()
	if err != nil {
		return 0, err
	}
	md, err := DecodeMetadata(id, body, v.enc.Params())
	if err != nil {
		return 0, err
	}
	return u.storeMetadata(ctx, md, v, up)
}

// storeMetadata stores (or buffers) verified metadata.
func (u *Uploads) storeMetadata(ctx context.Context, md *blob.MetadataWithID, v *epochView, up Upload) (Outcome, error) {
	info, err := u.blobInfo(ctx, md.ID)
	if err != nil {
		return 0, err
	}
	if info.Invalid {
		return 0, fmt.Errorf("%w: %s", ErrInvalidBlob, md.ID)
	}
	if !info.IsRegistered(v.epoch) {
		if !up.Pending {
			return 0, fmt.Errorf("%w: %s", ErrNotRegistered, md.ID)
		}
		added, err := u.pending.putMetadata(md, up.Source, time.Now())
		if err != nil {
			return 0, err
		}
		u.m.pendingBytes.Set(float64(u.pending.size()))
		if !added {
			return AlreadyHeld, nil
		}
		return Buffered, nil
	}
	has, err := u.store.HasMetadata(ctx, md.ID)
	if err != nil {
		return 0, err
	}
	if has {
		u.mds.put(md)
		return AlreadyHeld, nil
	}
	if err := u.store.PutMetadata(ctx, md); err != nil {
		return 0, err
	}
	u.mds.put(md)
	return Stored, nil
}

// MetadataStatus says whether the node holds a blob's metadata.
func (u *Uploads) MetadataStatus(ctx context.Context, id blob.ID) (api.StoredOnNodeStatus, error) {
	has, err := u.store.HasMetadata(ctx, id)
	switch {
	case err != nil:
		return "", err
	case has:
		return api.Stored, nil
	case u.pending.metadata(id) != nil:
		return api.Buffered, nil
	}
	return api.Nonexistent, nil
}

// SliverStatus says whether the node holds the sliver of axis a in pair.
func (u *Uploads) SliverStatus(ctx context.Context, id blob.ID, pair int, a redstuff.Axis) (api.StoredOnNodeStatus, error) {
	v, err := u.currentView()
	if err != nil {
		return "", err
	}
	if err := checkPair(v, pair); err != nil {
		return "", err
	}
	shard := uint16(blob.ShardIndex(id, v.nShards, pair))
	has, err := u.store.HasSliver(ctx, shard, id, a)
	switch {
	case err != nil:
		return "", err
	case has:
		return api.Stored, nil
	case u.pending.hasSliver(id, shard, a):
		return api.Buffered, nil
	}
	return api.Nonexistent, nil
}

// PutSliver checks, verifies and stores (or buffers, see Upload) the sliver of axis a in
// pair (body: its BCS SliverData).
func (u *Uploads) PutSliver(ctx context.Context, id blob.ID, pair int, a redstuff.Axis, body []byte, up Upload) (Outcome, error) {
	v, err := u.currentView()
	if err != nil {
		return 0, err
	}
	if err := checkPair(v, pair); err != nil {
		return 0, err
	}
	return u.storeSliver(ctx, id, v, pair, a, body, up, &uploadState{})
}

// uploadState caches per-request facts across the slivers of one batch.
type uploadState struct {
	info       *nodestore.BlobInfo
	md         *blob.MetadataWithID
	registered bool
}

// checkSliver runs every check of a sliver upload except its verification and returns the
// decoded sliver, the shard and the metadata to verify it against. done is true if the
// sliver is already held (stored or buffered).
func (u *Uploads) checkSliver(ctx context.Context, id blob.ID, v *epochView, pair int, a redstuff.Axis,
	body []byte, up Upload, st *uploadState) (sl redstuff.Sliver, shard uint16, done bool, err error) {
	sl, err = blob.UnmarshalSliverData(body, a)
	if err != nil {
		return sl, 0, false, fmt.Errorf("%w: sliver: %w", ErrMalformedBody, err)
	}
	p := v.enc.Params()
	if sl.Index >= v.nShards || p.PairIndex(a, sl.Index) != pair {
		return sl, 0, false, withMeta(fmt.Errorf("%w: %s sliver %d is not in pair %d", ErrSliverIndexMismatch, a, sl.Index, pair),
			"pair", strconv.Itoa(pair), "sliverIndex", strconv.Itoa(sl.Index))
	}
	shard = uint16(blob.ShardIndex(id, v.nShards, pair))
	if !v.owned[shard] {
		return sl, shard, false, withMeta(fmt.Errorf("%w: shard %d (pair %d) in epoch %d", ErrShardNotAssigned, shard, pair, v.epoch),
			"shard", strconv.Itoa(int(shard)), "epoch", strconv.Itoa(int(v.epoch)))
	}
	if st.info == nil {
		info, err := u.blobInfo(ctx, id)
		if err != nil {
			return sl, shard, false, err
		}
		st.info, st.registered = &info, info.IsRegistered(v.epoch)
	}
	if st.info.Invalid {
		return sl, shard, false, fmt.Errorf("%w: %s", ErrInvalidBlob, id)
	}
	if !st.registered && !up.Pending {
		return sl, shard, false, fmt.Errorf("%w: %s", ErrNotRegistered, id)
	}
	if st.md == nil {
		if md := u.mds.get(id); md != nil {
			has, err := u.store.HasMetadata(ctx, id)
			if err != nil {
				return sl, shard, false, err
			}
			if has {
				st.md = md
			}
		}
	}
	if st.md == nil {
		md, err := u.store.Metadata(ctx, id)
		switch {
		case err == nil:
			st.md = md
			u.mds.put(md)
		case errors.Is(err, nodestore.ErrNotFound):
			if st.md = u.pending.metadata(id); st.md == nil {
				return sl, shard, false, fmt.Errorf("%w: %s", ErrMetadataRequired, id)
			}
		default:
			return sl, shard, false, err
		}
	}
	if st.registered {
		has, err := u.store.HasSliver(ctx, shard, id, a)
		if err != nil || has {
			return sl, shard, has, err
		}
	} else if u.pending.hasSliver(id, shard, a) {
		return sl, shard, true, nil
	}
	return sl, shard, false, nil
}

// VerifySliver verifies a sliver against the metadata (its errors wrap ErrInvalidSliver).
func VerifySliver(enc *redstuff.Encoder, md *blob.MetadataWithID, sl redstuff.Sliver) error {
	if err := blob.VerifySliver(enc, md, sl); err != nil {
		return fmt.Errorf("%w: %s sliver %d: %w", ErrInvalidSliver, sl.Axis, sl.Index, err)
	}
	return nil
}

// verify runs VerifySliver under the node's verification limit.
func (c *core) verify(ctx context.Context, enc *redstuff.Encoder, md *blob.MetadataWithID, sl redstuff.Sliver) error {
	select {
	case c.verifySem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-c.verifySem }()
	return VerifySliver(enc, md, sl)
}

// storeSliver checks, verifies and stores (or buffers) one sliver upload.
func (u *Uploads) storeSliver(ctx context.Context, id blob.ID, v *epochView, pair int, a redstuff.Axis,
	body []byte, up Upload, st *uploadState) (Outcome, error) {
	sl, shard, done, err := u.checkSliver(ctx, id, v, pair, a, body, up, st)
	if err != nil {
		u.m.slivers.WithLabelValues("rejected").Inc()
		return 0, err
	}
	if done {
		u.m.slivers.WithLabelValues("duplicate").Inc()
		return AlreadyHeld, nil
	}
	if err := u.verify(ctx, v.enc, st.md, sl); err != nil {
		u.m.slivers.WithLabelValues("invalid").Inc()
		return 0, err
	}
	if !st.registered {
		sl.Data = append([]byte(nil), sl.Data...)
		if _, err := u.pending.putSliver(id, shard, sl, up.Source, time.Now()); err != nil {
			return 0, err
		}
		u.m.pendingBytes.Set(float64(u.pending.size()))
		u.m.slivers.WithLabelValues("buffered").Inc()
		return Buffered, nil
	}
	if err := u.store.PutSliverData(ctx, shard, id, a, body); err != nil {
		return 0, err
	}
	u.m.slivers.WithLabelValues("stored").Inc()
	return Stored, nil
}
