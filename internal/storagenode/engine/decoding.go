package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/nodestore"
	"github.com/floelabs/floe/redstuff"
)

// DecodingSymbols returns, in the BCS form of blob.DecodingSymbols, the symbols (without
// proofs) the node's stored slivers of the other axis give towards each target sliver of axis
// targetAxis: Walrus's GET .../decodingSymbols, with which a reader rebuilds the systematic
// slivers of a byte range it could not fetch. Each symbol is checked against the metadata as
// for RecoverySymbols, and the requests share its bound (symbolSlot). A target with no
// symbol is left out of the map; no symbol at all is ErrSliverNotFound.
func (rd *Reads) DecodingSymbols(ctx context.Context, id blob.ID, targets []int, targetAxis redstuff.Axis) ([]byte, error) {
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
	if len(targets) == 0 {
		return nil, fmt.Errorf("%w: no targetSlivers", ErrBadQuery)
	}
	targets = slices.Clone(targets)
	slices.Sort(targets)
	targets = slices.Compact(targets)
	for _, t := range targets {
		if t < 0 || t >= nShards {
			return nil, fmt.Errorf("%w: targetSlivers=%d (the blob has %d slivers per axis)", ErrBadQuery, t, nShards)
		}
	}
	out := blob.DecodingSymbols{}
	for _, shard := range v.shards {
		pair := blob.PairIndex(id, nShards, int(shard))
		syms, err := rd.sourceSymbols(ctx, v, md, shard, targetAxis.Other(), targets)
		if errors.Is(err, nodestore.ErrNotFound) {
			continue // serve what the node has
		}
		if err != nil {
			return nil, fmt.Errorf("pair %d: %w", pair, err)
		}
		for _, s := range syms {
			out[s.TargetIndex] = append(out[s.TargetIndex], blob.EitherDecodingSymbol{Target: s.Target,
				Symbol: blob.DecodingSymbol{Index: s.SourceIndex, Data: s.Data}})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: the node holds no source sliver for the request", ErrSliverNotFound)
	}
	return out.MarshalBCS()
}
