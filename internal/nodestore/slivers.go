package nodestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/cockroachdb/pebble/v2"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/crc32c"
	"github.com/floelabs/floe/redstuff"
)

// The sliver record (key 0x03 || shard || blob ID || axis) is the BCS SliverData of the
// sliver, the exact body of a sliver GET, so a node serves it without re-encoding.

// SliverRef names one stored sliver: the shard that holds it, its blob and its axis.
type SliverRef struct {
	Shard  uint16
	BlobID blob.ID
	Axis   redstuff.Axis
}

func (r SliverRef) String() string {
	return fmt.Sprintf("shard %d blob %s %s", r.Shard, r.BlobID, r.Axis)
}

func (r SliverRef) key(prefix byte) []byte { return sliverKey(prefix, r.Shard, r.BlobID, r.Axis) }

func checkAxis(a redstuff.Axis) error {
	if a != redstuff.Primary && a != redstuff.Secondary {
		return fmt.Errorf("%w: axis %d", ErrInvalid, uint8(a))
	}
	return nil
}

// encodeSliver returns the stored value of sl.
func encodeSliver(sl redstuff.Sliver) ([]byte, error) {
	if err := checkAxis(sl.Axis); err != nil {
		return nil, err
	}
	v, err := blob.MarshalSliverData(sl)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return v, nil
}

// decodeSliver decodes a stored sliver value of axis a. The sliver's data aliases v.
func decodeSliver(a redstuff.Axis, v []byte) (redstuff.Sliver, error) {
	sl, err := blob.UnmarshalSliverData(v, a)
	if err != nil {
		return redstuff.Sliver{}, fmt.Errorf("%w: sliver: %w", ErrCorrupt, err)
	}
	return sl, nil
}

// Batch collects writes (metadata and slivers of one upload, a sliver pair, ...) that Commit
// makes durable atomically. A Batch is not safe for concurrent use; Close releases it.
type Batch struct {
	b *pebble.Batch
	// ext holds the large slivers, which Commit writes to an extent file if they are
	// ext.threshold bytes or more, else sets in b.
	ext      []extentWrite
	extBytes int
}

// NewBatch returns an empty batch.
func (s *Store) NewBatch() *Batch { return &Batch{b: s.db.NewBatch()} }

// NewBatchSized returns an empty batch with room for about size bytes of keys and values, so
// that filling it with large slivers does not grow (and copy) its buffer again and again.
func (s *Store) NewBatchSized(size int) *Batch {
	return &Batch{b: s.db.NewBatchWithSize(max(0, size))}
}

// sliverRecordRoom is the room a sliver record's key and the batch's framing take, about.
const sliverRecordRoom = 64

// NewSliverBatch returns an empty batch with room for slivers of the given lengths (their
// SliverData) as Commit will write them into it: the small ones, and all of them if they are
// too few bytes for an extent, as they are; the others as references to an extent file. (A
// batch sized for the large slivers' bytes cost a 4 MiB allocation per upload request,
// zeroed and then never used.)
func (s *Store) NewSliverBatch(lens []int) *Batch {
	ext := 0
	for _, n := range lens {
		if n >= extentMinSliver {
			ext += n
		}
	}
	inline := s.ext.threshold < 0 || ext < s.ext.threshold
	size := 0
	for _, n := range lens {
		if n >= extentMinSliver && !inline {
			n = extentRefLen
		}
		size += n + sliverRecordRoom
	}
	return s.NewBatchSized(size)
}

// Close releases the batch; it must not be used afterwards.
func (b *Batch) Close() { _ = b.b.Close() }

// Count returns the number of writes in the batch.
func (b *Batch) Count() int { return int(b.b.Count()) + len(b.ext) }

// setSliver adds a sliver record; large ones wait for Commit (see Batch.ext).
func (b *Batch) setSliver(key, v []byte) error { return b.setSliverSum(key, v, 0, false) }

// setSliverSum is setSliver with v's SliverSum if summed.
func (b *Batch) setSliverSum(key, v []byte, sum uint32, summed bool) error {
	if len(v) < extentMinSliver {
		return b.b.Set(key, v, nil)
	}
	b.ext = append(b.ext, extentWrite{key: key, data: v, sum: sum, summed: summed})
	b.extBytes += len(v)
	return nil
}

// PutMetadata adds the metadata of a blob to the batch.
func (b *Batch) PutMetadata(m *blob.MetadataWithID) error {
	v, err := encodeMetadata(m)
	if err != nil {
		return err
	}
	return b.b.Set(metadataKey(m.ID), v, nil)
}

// PutSliver adds a sliver held for shard to the batch. The sliver must be structurally valid
// (whole even-sized symbols, an index that fits a u16); its contents are the caller's to
// verify (blob.VerifySliver).
func (b *Batch) PutSliver(shard uint16, id blob.ID, sl redstuff.Sliver) error {
	v, err := encodeSliver(sl)
	if err != nil {
		return fmt.Errorf("sliver %s: %w", SliverRef{shard, id, sl.Axis}, err)
	}
	return b.setSliver(sliverKey(prefixSliver, shard, id, sl.Axis), v)
}

// PutSliverData adds a sliver given as its BCS SliverData (an upload body) to the batch,
// storing those bytes as they are after checking that they decode. The batch may keep data
// without copying it until Commit returns: it must not change before then.
func (b *Batch) PutSliverData(shard uint16, id blob.ID, a redstuff.Axis, data []byte) error {
	return b.putSliverData(shard, id, a, data, 0, false)
}

// SliverSum returns the checksum a store keeps with a sliver's bytes written to an extent
// file (CRC-32C), and checks when it reads them back.
func SliverSum(data []byte) uint32 { return crc32c.Checksum(data) }

// PutSliverDataSum is PutSliverData given the data's SliverSum, which the caller computed
// while the bytes were in the CPU's caches (just after verifying them, say): Commit would
// otherwise read them all once more to checksum them. A wrong sum makes the sliver read back
// as corrupt.
func (b *Batch) PutSliverDataSum(shard uint16, id blob.ID, a redstuff.Axis, data []byte, sum uint32) error {
	return b.putSliverData(shard, id, a, data, sum, true)
}

func (b *Batch) putSliverData(shard uint16, id blob.ID, a redstuff.Axis, data []byte, sum uint32, summed bool) error {
	ref := SliverRef{shard, id, a}
	if err := checkAxis(a); err != nil {
		return fmt.Errorf("sliver %s: %w", ref, err)
	}
	if _, err := blob.UnmarshalSliverData(data, a); err != nil {
		return fmt.Errorf("sliver %s: %w: %w", ref, ErrInvalid, err)
	}
	return b.setSliverSum(ref.key(prefixSliver), data, sum, summed)
}

// Commit makes every write of b durable (synced) and visible, atomically. b stays usable only
// for Close.
func (s *Store) Commit(ctx context.Context, b *Batch) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.release()
	if len(b.ext) > 0 {
		if s.ext.threshold < 0 || b.extBytes < s.ext.threshold {
			for _, w := range b.ext {
				if err := b.b.Set(w.key, w.data, nil); err != nil {
					return fmt.Errorf("nodestore: commit: %w", err)
				}
			}
		} else {
			refs, id, err := s.ext.write(b.ext)
			if err != nil {
				return fmt.Errorf("nodestore: commit %d writes: %w", b.Count(), err)
			}
			defer s.ext.done(id)
			for i, w := range b.ext {
				if err := b.b.Set(w.key, refs[i], nil); err != nil {
					return fmt.Errorf("nodestore: commit: %w", err)
				}
			}
		}
		b.ext, b.extBytes = nil, 0
	}
	if err := s.commit(b.b); err != nil {
		return fmt.Errorf("nodestore: commit %d writes: %w", b.Count(), err)
	}
	return nil
}

// PutSliver stores one sliver held for shard (synced).
func (s *Store) PutSliver(ctx context.Context, shard uint16, id blob.ID, sl redstuff.Sliver) error {
	b := s.NewBatch()
	defer b.Close()
	if err := b.PutSliver(shard, id, sl); err != nil {
		return fmt.Errorf("nodestore: put %w", err)
	}
	return s.Commit(ctx, b)
}

// PutSliverData stores one sliver given as its BCS SliverData (synced).
func (s *Store) PutSliverData(ctx context.Context, shard uint16, id blob.ID, a redstuff.Axis, data []byte) error {
	b := s.NewBatch()
	defer b.Close()
	if err := b.PutSliverData(shard, id, a, data); err != nil {
		return fmt.Errorf("nodestore: put %w", err)
	}
	return s.Commit(ctx, b)
}

// PutSliverPair stores both slivers of the pair shard holds, atomically (synced).
func (s *Store) PutSliverPair(ctx context.Context, shard uint16, id blob.ID, primary, secondary redstuff.Sliver) error {
	if primary.Axis != redstuff.Primary || secondary.Axis != redstuff.Secondary {
		return fmt.Errorf("nodestore: put sliver pair: %w: axes %s, %s", ErrInvalid, primary.Axis, secondary.Axis)
	}
	b := s.NewBatch()
	defer b.Close()
	for _, sl := range [2]redstuff.Sliver{primary, secondary} {
		if err := b.PutSliver(shard, id, sl); err != nil {
			return fmt.Errorf("nodestore: put %w", err)
		}
	}
	return s.Commit(ctx, b)
}

// SliverData returns the stored BCS SliverData of a sliver, as a sliver GET serves it, or an
// error wrapping ErrNotFound.
func (s *Store) SliverData(ctx context.Context, shard uint16, id blob.ID, a redstuff.Axis) ([]byte, error) {
	ref := SliverRef{shard, id, a}
	if err := checkAxis(a); err != nil {
		return nil, fmt.Errorf("nodestore: sliver %s: %w", ref, err)
	}
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	defer s.release()
	v, err := s.getSliver(ref.key(prefixSliver))
	if err != nil {
		return nil, fmt.Errorf("nodestore: sliver %s: %w", ref, err)
	}
	return v, nil
}

// Sliver returns a stored sliver, or an error wrapping ErrNotFound.
func (s *Store) Sliver(ctx context.Context, shard uint16, id blob.ID, a redstuff.Axis) (redstuff.Sliver, error) {
	v, err := s.SliverData(ctx, shard, id, a)
	if err != nil {
		return redstuff.Sliver{}, err
	}
	sl, err := decodeSliver(a, v)
	if err != nil {
		return redstuff.Sliver{}, fmt.Errorf("nodestore: sliver %s: %w", SliverRef{shard, id, a}, err)
	}
	return sl, nil
}

// HasSliver reports whether a sliver is stored.
func (s *Store) HasSliver(ctx context.Context, shard uint16, id blob.ID, a redstuff.Axis) (bool, error) {
	ref := SliverRef{shard, id, a}
	if err := checkAxis(a); err != nil {
		return false, fmt.Errorf("nodestore: has sliver %s: %w", ref, err)
	}
	if err := s.begin(ctx); err != nil {
		return false, err
	}
	defer s.release()
	ok, err := s.has(ref.key(prefixSliver))
	if err != nil {
		return false, fmt.Errorf("nodestore: has sliver %s: %w", ref, err)
	}
	return ok, nil
}

// MissingSlivers returns the slivers of blob id that the given shards should hold (both axes
// of each) and that are not stored, in shard order, primary first. An empty result means the
// node holds every sliver it needs to sign a storage confirmation.
func (s *Store) MissingSlivers(ctx context.Context, id blob.ID, shards []uint16) ([]SliverRef, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	defer s.release()
	var missing []SliverRef
	for _, sh := range shards {
		for _, a := range [2]redstuff.Axis{redstuff.Primary, redstuff.Secondary} {
			ref := SliverRef{sh, id, a}
			ok, err := s.has(ref.key(prefixSliver))
			if err != nil {
				return nil, fmt.Errorf("nodestore: has sliver %s: %w", ref, err)
			}
			if !ok {
				missing = append(missing, ref)
			}
		}
	}
	return missing, nil
}

// DeleteSliver deletes a sliver (synced). Deleting what is not stored is not an error. If the
// sliver was in an extent file, the file is deleted by the next CollectGarbage, DropShard or
// Open once none of its slivers is referenced.
func (s *Store) DeleteSliver(ctx context.Context, shard uint16, id blob.ID, a redstuff.Axis) error {
	ref := SliverRef{shard, id, a}
	if err := checkAxis(a); err != nil {
		return fmt.Errorf("nodestore: delete sliver %s: %w", ref, err)
	}
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.release()
	if err := s.write(func(b *pebble.Batch) error { return b.Delete(ref.key(prefixSliver), nil) }); err != nil {
		return fmt.Errorf("nodestore: delete sliver %s: %w", ref, err)
	}
	return nil
}

// ShardSliver is one sliver of a shard, as ShardSlivers returns it.
type ShardSliver struct {
	BlobID blob.ID
	Sliver redstuff.Sliver
}

// ShardSlivers returns up to limit slivers of axis a that shard holds, in blob-ID order,
// starting at blob ID start (inclusive): the page a shard sync (Walrus's sync_shard) sends.
// The next page starts after the last blob ID returned. limit <= 0 means no limit.
func (s *Store) ShardSlivers(ctx context.Context, shard uint16, a redstuff.Axis, start blob.ID, limit int) ([]ShardSliver, error) {
	if err := checkAxis(a); err != nil {
		return nil, fmt.Errorf("nodestore: shard %d slivers: %w", shard, err)
	}
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	defer s.release()
	out, err := s.shardSlivers(ctx, shard, a, start, limit)
	if err != nil {
		return nil, fmt.Errorf("nodestore: shard %d slivers: %w", shard, err)
	}
	return out, nil
}

func (s *Store) shardSlivers(ctx context.Context, shard uint16, a redstuff.Axis, start blob.ID, limit int) (out []ShardSliver, err error) {
	_, upper := shardRange(prefixSliver, shard)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: shardBlobPrefix(prefixSliver, shard, start), UpperBound: upper})
	if err != nil {
		return nil, err
	}
	defer closeAll(&err, it)
	for ok := it.First(); ok && (limit <= 0 || len(out) < limit); ok = it.Next() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ref, err := parseSliverKey(it.Key())
		if err != nil {
			return nil, err
		}
		if ref.Axis != a {
			continue
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, err
		}
		if v, err = s.resolve(bytes.Clone(v)); err != nil {
			return nil, fmt.Errorf("%s: %w", ref, err)
		}
		sl, err := decodeSliver(a, v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ref, err)
		}
		out = append(out, ShardSliver{BlobID: ref.BlobID, Sliver: sl})
	}
	return out, it.Error()
}

// Shards returns the shards that hold at least one sliver, in increasing order. Listing them
// seeks through the store once per shard; a node asks every second (shard migrations), so
// the last answer is reused while no commit that may change it was made since.
func (s *Store) Shards(ctx context.Context) ([]uint16, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	defer s.release()
	gen := s.sliverWrites.Load()
	if out, ok := s.shards.get(gen); ok {
		return out, nil
	}
	out, err := s.listShards(prefixSliver)
	if err != nil {
		return nil, fmt.Errorf("nodestore: list shards: %w", err)
	}
	s.shards.put(gen, out)
	return out, nil
}

// shardsCache holds the shards holding slivers as listed when Store.sliverWrites was gen.
type shardsCache struct {
	mu    sync.Mutex
	valid bool
	gen   uint64
	list  []uint16
}

func (c *shardsCache) get(gen uint64) ([]uint16, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.valid || c.gen != gen {
		return nil, false
	}
	return slices.Clone(c.list), true
}

func (c *shardsCache) put(gen uint64, list []uint16) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.valid, c.gen, c.list = true, gen, slices.Clone(list)
}

// touchesSlivers reports whether applying b may change which shards hold slivers: unless
// every write of b sets or deletes a key outside the sliver records (metadata, blob infos,
// the event cursor...).
func touchesSlivers(b *pebble.Batch) bool {
	r := b.Reader()
	for {
		kind, k, _, ok, err := r.Next()
		if err != nil {
			return true
		}
		if !ok {
			return false
		}
		if (kind != pebble.InternalKeyKindSet && kind != pebble.InternalKeyKindDelete) || len(k) == 0 || k[0] == prefixSliver {
			return true
		}
	}
}

// listShards lists the shards with a key under prefix (0x03 or 0x04), seeking from one shard
// to the next rather than reading every key.
func (s *Store) listShards(prefix byte) (out []uint16, err error) {
	lower, upper := prefixRange(prefix)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, err
	}
	defer closeAll(&err, it)
	for ok := it.First(); ok; {
		k := it.Key()
		if len(k) < shardKeyLen {
			return nil, fmt.Errorf("%w: key %x under prefix %#x", ErrCorrupt, k, prefix)
		}
		sh := uint16(k[1])<<8 | uint16(k[2])
		out = append(out, sh)
		if sh == 0xffff {
			break
		}
		_, next := shardRange(prefix, sh)
		ok = it.SeekGE(next)
	}
	return out, it.Error()
}

// DropShard deletes every sliver (and quarantined sliver) of shard with one range deletion
// (synced), as a node does once a shard has moved to another node.
func (s *Store) DropShard(ctx context.Context, shard uint16) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.release()
	err := s.write(func(b *pebble.Batch) error {
		var errs []error
		for _, p := range [2]byte{prefixSliver, prefixQuarantine} {
			lower, upper := shardRange(p, shard)
			errs = append(errs, b.DeleteRange(lower, upper, nil))
		}
		return errors.Join(errs...)
	})
	if err != nil {
		return fmt.Errorf("nodestore: drop shard %d: %w", shard, err)
	}
	s.sweepAfterDelete("drop shard")
	s.log.Info("shard dropped", "shard", shard)
	return nil
}
