package nodestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/floelabs/floe/blob"
)

// gcChunk is how many blobs CollectGarbage deletes per synced batch (and per hold of the event
// lock, which ApplyEvent waits for).
const gcChunk = 256

// GCReport counts what CollectGarbage found and deleted.
type GCReport struct {
	// BlobsScanned is the number of blob-info records examined.
	BlobsScanned int
	// Expired is the number of blobs collected because no Blob object is valid any more:
	// every one expired (end epoch <= the current epoch) or was deleted.
	Expired int
	// Invalid is the number of invalid blobs of which something was deleted (their data, or
	// their blob info once all their objects expired).
	Invalid int
	// InfosDeleted, MetadataDeleted, SliversDeleted and QuarantinedDeleted count the records
	// deleted.
	InfosDeleted       int
	MetadataDeleted    int
	SliversDeleted     int
	QuarantinedDeleted int
}

// gcAction is what CollectGarbage does to one blob.
type gcAction uint8

const (
	gcKeep gcAction = iota
	gcData          // delete metadata and slivers, keep the blob info
	gcAll           // delete metadata, slivers and blob info
)

// gcDecide returns what to collect of a blob with info in epoch.
//
// A valid blob with no Blob object valid in epoch (all expired or deleted) loses everything,
// its blob info included. An invalid blob loses its data at once, but its blob info, which
// answers status requests with "invalid" and makes the node refuse uploads, is kept until
// every Blob object ever registered for it has expired.
func gcDecide(info *BlobInfo, epoch uint32) gcAction {
	switch {
	case info.Invalid && info.EndEpoch() <= epoch:
		return gcAll
	case info.Invalid:
		return gcData
	case !info.IsRegistered(epoch):
		return gcAll
	}
	return gcKeep
}

// CollectGarbage deletes the data of every blob that expired (no Blob object valid in
// currentEpoch), was deleted or was invalidated: its metadata, its slivers on every shard,
// its quarantined slivers and, as gcDecide says, its blob info. Deletions are synced in chunks;
// a cancelled ctx stops the collection between blobs and returns what was done so far with
// ctx's error. It runs beside the node's other work: each decision is taken on the latest
// blob info, under the lock ApplyEvent holds.
func (s *Store) CollectGarbage(ctx context.Context, currentEpoch uint32) (GCReport, error) {
	var rep GCReport
	if err := s.begin(ctx); err != nil {
		return rep, err
	}
	defer s.release()
	ids, err := s.blobInfoIDs(ctx)
	if err != nil {
		return rep, fmt.Errorf("nodestore: gc: %w", err)
	}
	rep.BlobsScanned = len(ids)
	sliverShards, err := s.listShards(prefixSliver)
	if err != nil {
		return rep, fmt.Errorf("nodestore: gc: %w", err)
	}
	quarantineShards, err := s.listShards(prefixQuarantine)
	if err != nil {
		return rep, fmt.Errorf("nodestore: gc: %w", err)
	}
	for len(ids) > 0 {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		if s.closing() {
			return rep, ErrClosed
		}
		n := min(len(ids), gcChunk)
		if err := s.gcChunk(ids[:n], currentEpoch, sliverShards, quarantineShards, &rep); err != nil {
			return rep, fmt.Errorf("nodestore: gc: %w", err)
		}
		ids = ids[n:]
	}
	// Also collects the extents of slivers deleted one by one (DeleteSliver) since.
	s.sweepAfterDelete("garbage collection")
	if rep.Expired > 0 || rep.Invalid > 0 {
		s.log.Info("garbage collected", "epoch", currentEpoch, "scanned", rep.BlobsScanned,
			"expired", rep.Expired, "invalid", rep.Invalid, "slivers", rep.SliversDeleted,
			"metadata", rep.MetadataDeleted, "infos", rep.InfosDeleted)
	}
	return rep, nil
}

// blobInfoIDs returns the blob IDs that have a blob-info record.
func (s *Store) blobInfoIDs(ctx context.Context) (ids []blob.ID, err error) {
	lower, upper := prefixRange(prefixBlobInfo)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, err
	}
	defer closeAll(&err, it)
	for ok := it.First(); ok; ok = it.Next() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		id, err := blobIDFromKey(it.Key())
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, it.Error()
}

// gcChunk decides and deletes for ids in one synced batch, holding the event lock.
func (s *Store) gcChunk(ids []blob.ID, epoch uint32, sliverShards, quarantineShards []uint16, rep *GCReport) (err error) {
	s.eventMu.Lock()
	defer s.eventMu.Unlock()
	b := s.db.NewBatch()
	defer b.Close()
	it, err := s.db.NewIter(nil)
	if err != nil {
		return err
	}
	defer closeAll(&err, it)
	var counts GCReport
	for _, id := range ids {
		v, err := s.get(blobInfoKey(id))
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("blob info %s: %w", id, err)
		}
		var info BlobInfo
		if err := info.UnmarshalBinary(v); err != nil {
			// A record that does not decode cannot say the blob is live; keep everything
			// for inspection rather than guess.
			s.log.Error("gc: undecodable blob info kept", "blob_id", id, "err", err)
			continue
		}
		act := gcDecide(&info, epoch)
		if act == gcKeep {
			continue
		}
		before := counts.InfosDeleted + counts.MetadataDeleted + counts.SliversDeleted + counts.QuarantinedDeleted
		if act == gcAll {
			if err := b.Delete(blobInfoKey(id), nil); err != nil {
				return err
			}
			counts.InfosDeleted++
		}
		if ok, err := s.has(metadataKey(id)); err != nil {
			return err
		} else if ok {
			if err := b.Delete(metadataKey(id), nil); err != nil {
				return err
			}
			counts.MetadataDeleted++
		}
		for _, set := range [...]struct {
			prefix byte
			shards []uint16
			n      *int
		}{{prefixSliver, sliverShards, &counts.SliversDeleted}, {prefixQuarantine, quarantineShards, &counts.QuarantinedDeleted}} {
			for _, sh := range set.shards {
				p := shardBlobPrefix(set.prefix, sh, id)
				for ok := it.SeekGE(p); ok && bytes.HasPrefix(it.Key(), p); ok = it.Next() {
					if err := b.Delete(bytes.Clone(it.Key()), nil); err != nil {
						return err
					}
					*set.n++
				}
				if err := it.Error(); err != nil {
					return err
				}
			}
		}
		switch {
		case !info.Invalid:
			counts.Expired++
		case counts.InfosDeleted+counts.MetadataDeleted+counts.SliversDeleted+counts.QuarantinedDeleted > before:
			counts.Invalid++
		}
	}
	if err := s.commit(b); err != nil {
		return err
	}
	rep.Expired += counts.Expired
	rep.Invalid += counts.Invalid
	rep.InfosDeleted += counts.InfosDeleted
	rep.MetadataDeleted += counts.MetadataDeleted
	rep.SliversDeleted += counts.SliversDeleted
	rep.QuarantinedDeleted += counts.QuarantinedDeleted
	return nil
}
