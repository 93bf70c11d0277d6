package engine

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	api "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/nodestore"
	"github.com/floelabs/floe/redstuff"
)

// Reads serves what the node holds: metadata, slivers, recovery symbols and blob statuses.
type Reads struct {
	*core
	// symbolSem bounds the recovery- and decoding-symbol requests served at once;
	// symbolWaiters counts those waiting for a slot.
	symbolSem     chan struct{}
	symbolWaiters atomic.Int64
}

// symbolSlot waits for one of the MaxSymbolRequests slots of symbol requests, at most
// SymbolWait and only if fewer than MaxSymbolWaiters already wait (ErrBusy otherwise), and
// returns its release.
func (rd *Reads) symbolSlot(ctx context.Context) (func(), error) {
	release := func() { <-rd.symbolSem }
	select {
	case rd.symbolSem <- struct{}{}:
		return release, nil
	default:
	}
	if rd.symbolWaiters.Add(1) > int64(rd.cfg.MaxSymbolWaiters) {
		rd.symbolWaiters.Add(-1)
		return nil, fmt.Errorf("%w: too many symbol requests", ErrBusy)
	}
	defer rd.symbolWaiters.Add(-1)
	t := time.NewTimer(rd.cfg.SymbolWait)
	defer t.Stop()
	select {
	case rd.symbolSem <- struct{}{}:
		return release, nil
	case <-t.C:
		return nil, fmt.Errorf("%w: symbol requests queued for %v", ErrBusy, rd.cfg.SymbolWait)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Metadata returns a blob's metadata in its BCS form (with the ID).
func (rd *Reads) Metadata(ctx context.Context, id blob.ID) ([]byte, error) {
	info, err := rd.blobInfo(ctx, id)
	if err != nil {
		return nil, err
	}
	if info.Invalid {
		return nil, fmt.Errorf("%w: %s", ErrInvalidBlob, id)
	}
	md, err := rd.store.Metadata(ctx, id)
	if errors.Is(err, nodestore.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrMetadataNotFound, id)
	}
	if err != nil {
		return nil, err
	}
	return md.MarshalBCS()
}

// Sliver returns the stored sliver of axis a in pair, in its BCS SliverData form; with
// VerifyReads it is verified first, and a corrupt one is quarantined (and queued for
// recovery) and reported as not found.
func (rd *Reads) Sliver(ctx context.Context, id blob.ID, pair int, a redstuff.Axis) ([]byte, error) {
	v, err := rd.currentView()
	if err != nil {
		return nil, err
	}
	if err := checkPair(v, pair); err != nil {
		return nil, err
	}
	shard := uint16(blob.ShardIndex(id, v.nShards, pair))
	info, err := rd.blobInfo(ctx, id)
	if err != nil {
		return nil, err
	}
	if info.Invalid {
		return nil, fmt.Errorf("%w: %s", ErrInvalidBlob, id)
	}
	data, err := rd.store.SliverData(ctx, shard, id, a)
	if errors.Is(err, nodestore.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s pair %d %s", ErrSliverNotFound, id, pair, a)
	}
	if err != nil {
		return nil, err
	}
	if rd.cfg.VerifyReads {
		if err := rd.verifyRead(ctx, v, nodestore.SliverRef{Shard: shard, BlobID: id, Axis: a}, data); err != nil {
			return nil, err
		}
	}
	return data, nil
}

// verifyRead verifies a stored sliver about to be served; a corrupt one is quarantined (and
// queued for recovery) and reported as not found.
func (rd *Reads) verifyRead(ctx context.Context, v *epochView, ref nodestore.SliverRef, data []byte) error {
	md, err := rd.store.Metadata(ctx, ref.BlobID)
	if err != nil {
		return err
	}
	sl, err := blob.UnmarshalSliverData(data, ref.Axis)
	if err == nil {
		err = rd.verify(ctx, v.enc, md, sl)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if err != nil {
		rd.quarantineRead(ctx, ref, data, err)
		return fmt.Errorf("%w: %s is corrupt and being repaired", ErrSliverNotFound, ref)
	}
	return nil
}

// SymbolQuery names the recovery symbols asked for: either IDs, or every symbol the node can
// give towards the sliver Target of axis TargetAxis; ProofAxis, if set, forces the proofs
// against the node's slivers of that axis.
type SymbolQuery struct {
	IDs        []blob.SymbolID
	Target     *int
	TargetAxis *redstuff.Axis
	ProofAxis  *redstuff.Axis
}

// RecoverySymbols returns the symbols q asks for, with their proofs, in their BCS form; each
// is checked against the metadata first. At most MaxSymbolRequests are served at once (see
// symbolSlot).
func (rd *Reads) RecoverySymbols(ctx context.Context, id blob.ID, q SymbolQuery) ([]byte, error) {
	release, err := rd.symbolSlot(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	v, err := rd.currentView()
	if err != nil {
		return nil, err
	}
	md, err := rd.store.Metadata(ctx, id)
	if errors.Is(err, nodestore.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrMetadataNotFound, id)
	}
	if err != nil {
		return nil, err
	}
	nShards := len(md.Metadata.Hashes)
	if nShards != v.nShards {
		return nil, fmt.Errorf("%w: metadata has %d shards, committee %d", ErrInvalidMetadata, nShards, v.nShards)
	}
	ids, proofAxis := q.IDs, q.ProofAxis
	type source struct {
		pair int
		axis redstuff.Axis
	}
	wanted := map[source][]int{}
	var order []source
	add := func(s source, t int) {
		if _, ok := wanted[s]; !ok {
			order = append(order, s)
		}
		wanted[s] = append(wanted[s], t)
	}
	p := v.enc.Params()
	// The node's shards, and those it keeps without owning them until their new owners
	// hold them (migrate.go).
	owns := func(pair int) bool {
		s := uint16(blob.ShardIndex(id, nShards, pair))
		return v.owned[s] || rd.shards.isRetained(s)
	}
	switch {
	case len(ids) > 0 && q.Target == nil && q.TargetAxis == nil:
		if len(ids) > 2*nShards {
			return nil, fmt.Errorf("%w: %d symbol IDs", ErrBadQuery, len(ids))
		}
		for _, sid := range ids {
			if int(sid.Primary) >= nShards || int(sid.Secondary) >= nShards {
				return nil, fmt.Errorf("%w: id=%s", ErrBadQuery, sid)
			}
			primPair, secPair := int(sid.Primary), p.PairIndex(redstuff.Secondary, int(sid.Secondary))
			switch {
			case (proofAxis == nil || *proofAxis == redstuff.Primary) && owns(primPair):
				add(source{primPair, redstuff.Primary}, int(sid.Secondary))
			case (proofAxis == nil || *proofAxis == redstuff.Secondary) && owns(secPair):
				add(source{secPair, redstuff.Secondary}, int(sid.Primary))
			default:
				return nil, fmt.Errorf("%w: the node holds neither sliver of symbol %s", ErrSliverNotFound, sid)
			}
		}
	case len(ids) == 0 && q.Target != nil && q.TargetAxis != nil:
		t := *q.Target
		if t < 0 || t >= nShards {
			return nil, fmt.Errorf("%w: targetSliver=%d", ErrBadQuery, t)
		}
		for _, shard := range append(slices.Clone(v.shards), rd.shards.retainedShards()...) {
			add(source{blob.PairIndex(id, nShards, int(shard)), q.TargetAxis.Other()}, t)
		}
	default:
		return nil, fmt.Errorf("%w: give either id=P-S (repeated) or targetSliver and targetType", ErrBadQuery)
	}
	var syms []redstuff.RecoverySymbol
	for _, s := range order {
		shard := uint16(blob.ShardIndex(id, nShards, s.pair))
		out, err := rd.sourceSymbols(ctx, v, md, shard, s.axis, wanted[s])
		if errors.Is(err, nodestore.ErrNotFound) {
			if len(ids) == 0 {
				continue // serve what the node has
			}
			return nil, fmt.Errorf("%w: %s sliver of pair %d", ErrSliverNotFound, s.axis, s.pair)
		}
		if err != nil {
			return nil, err
		}
		syms = append(syms, out...)
	}
	if len(syms) == 0 {
		return nil, fmt.Errorf("%w: the node holds no source sliver for the request", ErrSliverNotFound)
	}
	return blob.MarshalGeneralRecoverySymbols(syms)
}

// sourceSymbols returns the recovery symbols for targets of the stored sliver (shard, axis a)
// of blob md.ID, each checked against the metadata: a stored sliver whose symbols do not
// verify is corrupt, and is quarantined (and queued for recovery) instead of served; the
// error then wraps nodestore.ErrNotFound.
func (c *core) sourceSymbols(ctx context.Context, v *epochView, md *blob.MetadataWithID, shard uint16, a redstuff.Axis,
	targets []int) ([]redstuff.RecoverySymbol, error) {
	sl, raw, err := c.storedSliver(ctx, shard, md.ID, a)
	if err == nil {
		var out []redstuff.RecoverySymbol
		if out, err = v.enc.RecoverySymbols(sl, targets); err == nil {
			// Every symbol's proof leads to the root of the tree over the stored sliver's
			// expansion: it verifies only if the stored sliver hashes to its commitment.
			for _, sym := range out {
				if err = blob.VerifyRecoverySymbol(v.enc, md, sym); err != nil {
					break
				}
			}
			if err == nil {
				return out, nil
			}
		}
	}
	if raw == nil {
		return nil, err
	}
	ref := nodestore.SliverRef{Shard: shard, BlobID: md.ID, Axis: a}
	c.quarantineRead(ctx, ref, raw, fmt.Errorf("serving recovery symbols: %w", err))
	return nil, fmt.Errorf("%w: %s is corrupt and being repaired", nodestore.ErrNotFound, ref)
}

// BlobStatus returns the node's status of a blob.
func (rd *Reads) BlobStatus(ctx context.Context, id blob.ID) (api.BlobStatus, error) {
	v, err := rd.currentView()
	if err != nil {
		return api.BlobStatus{}, err
	}
	st, err := rd.store.BlobStatus(ctx, id, v.epoch)
	if err != nil {
		return api.BlobStatus{}, err
	}
	return apiBlobStatus(st), nil
}

func apiEventID(e nodestore.EventID) api.EventID {
	return api.EventID{TxDigest: base58(e.TxDigest[:]), EventSeq: strconv.FormatUint(e.Seq, 10)}
}

func apiBlobStatus(st nodestore.BlobStatus) api.BlobStatus {
	var ice *uint32
	if st.HasInitialCertified {
		e := st.InitialCertifiedEpoch
		ice = &e
	}
	counts := api.DeletableCounts{CountDeletableTotal: st.DeletableTotal, CountDeletableCertified: st.DeletableCertified}
	switch st.Kind {
	case nodestore.StatusInvalid:
		return api.BlobStatus{Invalid: &api.InvalidStatus{Event: apiEventID(st.Event)}}
	case nodestore.StatusPermanent:
		return api.BlobStatus{Permanent: &api.PermanentStatus{EndEpoch: st.EndEpoch, IsCertified: st.Certified,
			StatusEvent: apiEventID(st.Event), DeletableCounts: counts, InitialCertifiedEpoch: ice}}
	case nodestore.StatusDeletable:
		return api.BlobStatus{Deletable: &api.DeletableStatus{InitialCertifiedEpoch: ice, DeletableCounts: counts}}
	default:
		return api.BlobStatus{Nonexistent: true}
	}
}

const base58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

// base58 encodes b in Bitcoin's base58 alphabet (Sui's digest form).
func base58(b []byte) string {
	x := new(big.Int).SetBytes(b)
	var out []byte
	mod, radix := new(big.Int), big.NewInt(58)
	for x.Sign() > 0 {
		x.DivMod(x, radix, mod)
		out = append(out, base58Alphabet[mod.Int64()])
	}
	for _, c := range b {
		if c != 0 {
			break
		}
		out = append(out, '1')
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return string(out)
}
