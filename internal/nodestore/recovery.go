package nodestore

import (
	"context"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/floelabs/floe/blob"
)

// BlobInfoEntry is one blob-info record as BlobInfos returns it.
type BlobInfoEntry struct {
	ID   blob.ID
	Info BlobInfo
}

// BlobInfos returns up to limit blob-info records in blob-ID order, starting at blob ID start
// (inclusive); the next page starts after the last ID returned. limit <= 0 means no limit. A
// node walks them to find the certified blobs whose slivers it must hold.
func (s *Store) BlobInfos(ctx context.Context, start blob.ID, limit int) ([]BlobInfoEntry, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	defer s.release()
	out, err := s.blobInfos(ctx, start, limit)
	if err != nil {
		return nil, fmt.Errorf("nodestore: blob infos: %w", err)
	}
	return out, nil
}

func (s *Store) blobInfos(ctx context.Context, start blob.ID, limit int) (out []BlobInfoEntry, err error) {
	_, upper := prefixRange(prefixBlobInfo)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: blobInfoKey(start), UpperBound: upper})
	if err != nil {
		return nil, err
	}
	defer closeAll(&err, it)
	for ok := it.First(); ok && (limit <= 0 || len(out) < limit); ok = it.Next() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		id, err := blobIDFromKey(it.Key())
		if err != nil {
			return nil, err
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, err
		}
		var info BlobInfo
		if err := info.UnmarshalBinary(v); err != nil {
			return nil, fmt.Errorf("blob info %s: %w", id, err)
		}
		out = append(out, BlobInfoEntry{ID: id, Info: info})
	}
	return out, it.Error()
}

// Quarantine moves the stored sliver ref to the quarantine records (synced, atomically), as
// Scrub does, if its stored record still equals data (the bytes the caller read and found
// corrupt); reason is kept with it. It reports whether the sliver was moved: false if the
// sliver is gone or was rewritten since it was read.
func (s *Store) Quarantine(ctx context.Context, ref SliverRef, data []byte, reason string) (bool, error) {
	if err := checkAxis(ref.Axis); err != nil {
		return false, fmt.Errorf("nodestore: quarantine %s: %w", ref, err)
	}
	if err := s.begin(ctx); err != nil {
		return false, err
	}
	defer s.release()
	moved, err := s.quarantine(ref, nil, data, reason)
	if err != nil {
		return false, fmt.Errorf("nodestore: quarantine %s: %w", ref, err)
	}
	if moved {
		s.log.Warn("sliver quarantined", "shard", ref.Shard, "blob_id", ref.BlobID, "axis", ref.Axis, "reason", reason)
	}
	return moved, nil
}
