package nodestore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/cockroachdb/pebble/v2"

	"github.com/floelabs/floe/redstuff"
)

// ErrSkipSliver is returned (wrapped) by a Scrub verify function that cannot judge a sliver,
// for example because the blob's metadata is missing: the sliver is counted as skipped and
// left where it is.
var ErrSkipSliver = errors.New("nodestore: sliver not verified")

// The quarantine record (key 0x04 || shard || blob ID || axis), version 1:
//
//	version u8 (= 1)
//	reason  uvarint length, UTF-8 text (at most maxReasonLen bytes)
//	data    the sliver record exactly as it was stored (the rest of the value)
const quarantineV1 byte = 1

// maxReasonLen bounds the reason text of a quarantine record.
const maxReasonLen = 4096

func encodeQuarantine(reason string, data []byte) []byte {
	if len(reason) > maxReasonLen {
		reason = reason[:maxReasonLen]
	}
	reason = string(bytes.ToValidUTF8([]byte(reason), []byte("?")))
	out := make([]byte, 0, 1+binary.MaxVarintLen64+len(reason)+len(data))
	out = append(out, quarantineV1)
	out = binary.AppendUvarint(out, uint64(len(reason)))
	out = append(out, reason...)
	return append(out, data...)
}

func decodeQuarantine(v []byte) (reason string, data []byte, err error) {
	if len(v) == 0 || v[0] != quarantineV1 {
		return "", nil, fmt.Errorf("%w: quarantine record version", ErrCorrupt)
	}
	n, w := binary.Uvarint(v[1:])
	if w <= 0 || n > maxReasonLen || n > uint64(len(v)-1-w) {
		return "", nil, fmt.Errorf("%w: quarantine record reason length", ErrCorrupt)
	}
	if w != len(binary.AppendUvarint(nil, n)) {
		return "", nil, fmt.Errorf("%w: quarantine record reason length not minimal", ErrCorrupt)
	}
	r := v[1+w : 1+w+int(n)]
	if !utf8.Valid(r) {
		return "", nil, fmt.Errorf("%w: quarantine reason is not UTF-8", ErrCorrupt)
	}
	return string(r), v[1+w+int(n):], nil
}

// ScrubReport says what Scrub found.
type ScrubReport struct {
	// Checked is the number of slivers verified, Bytes their stored size.
	Checked int
	Bytes   int64
	// Skipped counts slivers the verify function could not judge (ErrSkipSliver).
	Skipped int
	// Quarantined lists the slivers that failed verification (or did not decode) and were
	// moved to quarantine: the node should rebuild them.
	Quarantined []SliverRef
}

// Scrub walks every stored sliver, shard by shard in key order, and calls verify on it. A
// sliver that does not decode, or that verify rejects with an error other than
// ErrSkipSliver, is moved (synced, atomically) from the sliver records to the quarantine
// records: it is no longer served (Sliver, HasSliver, ShardSlivers and MissingSlivers no
// longer see it) but is kept for inspection (Quarantined) until DeleteQuarantined, DropShard
// or garbage collection removes it. A sliver rewritten between its read and its move is not
// moved. A cancelled ctx stops the walk and returns the report so far with ctx's error.
func (s *Store) Scrub(ctx context.Context, verify func(ref SliverRef, sl redstuff.Sliver) error) (ScrubReport, error) {
	var rep ScrubReport
	if err := s.begin(ctx); err != nil {
		return rep, err
	}
	defer s.release()
	err := s.scrub(ctx, verify, &rep)
	if len(rep.Quarantined) > 0 || err != nil {
		s.log.Warn("scrub finished", "checked", rep.Checked, "skipped", rep.Skipped,
			"quarantined", len(rep.Quarantined), "err", err)
	}
	if err != nil && ctx.Err() == nil && !errors.Is(err, ErrClosed) {
		err = fmt.Errorf("nodestore: scrub: %w", err)
	}
	return rep, err
}

func (s *Store) scrub(ctx context.Context, verify func(SliverRef, redstuff.Sliver) error, rep *ScrubReport) (err error) {
	lower, upper := prefixRange(prefixSliver)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return err
	}
	defer closeAll(&err, it)
	for ok := it.First(); ok; ok = it.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if s.closing() {
			return ErrClosed
		}
		ref, err := parseSliverKey(it.Key())
		if err != nil {
			// A key under the sliver prefix that does not parse: quarantine cannot name
			// it, so report it as an error rather than skip it silently.
			return err
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("read %s: %w", ref, err)
		}
		raw := bytes.Clone(v)
		v, rerr := s.resolve(raw)
		rep.Bytes += int64(len(v))
		var reason error
		sl, derr := decodeSliver(ref.Axis, v)
		if rerr != nil {
			reason = rerr
		} else if derr != nil {
			reason = derr
		} else if verr := verify(ref, sl); errors.Is(verr, ErrSkipSliver) {
			rep.Skipped++
			continue
		} else {
			reason = verr
		}
		if s.closing() {
			// verify may have failed because the store is closing under it.
			return ErrClosed
		}
		rep.Checked++
		if reason == nil {
			continue
		}
		moved, err := s.quarantine(ref, raw, v, reason.Error())
		if err != nil {
			return fmt.Errorf("quarantine %s: %w", ref, err)
		}
		if moved {
			s.log.Warn("sliver quarantined", "shard", ref.Shard, "blob_id", ref.BlobID, "axis", ref.Axis, "reason", reason)
			rep.Quarantined = append(rep.Quarantined, ref)
		}
	}
	return it.Error()
}

// quarantine moves the sliver ref, if its record is still raw (or, with raw nil, its data is
// still data), to the quarantine records, which keep data.
func (s *Store) quarantine(ref SliverRef, raw, data []byte, reason string) (bool, error) {
	cur, err := s.get(ref.key(prefixSliver))
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if raw == nil {
		// Unreadable extent bytes compare as what could be read, if anything.
		if curData, _ := s.resolve(cur); !bytes.Equal(curData, data) {
			return false, nil
		}
	} else if !bytes.Equal(cur, raw) {
		return false, nil
	}
	err = s.write(func(b *pebble.Batch) error {
		return errors.Join(
			b.Delete(ref.key(prefixSliver), nil),
			b.Set(ref.key(prefixQuarantine), encodeQuarantine(reason, data), nil))
	})
	if err != nil {
		return false, err
	}
	if _, ok := parseExtentRef(cur); ok {
		s.sweepAfterDelete("quarantine")
	}
	return true, nil
}

// QuarantinedSliver is a sliver that Scrub moved out of service.
type QuarantinedSliver struct {
	Ref    SliverRef
	Reason string
	// Data is the sliver record as it was stored (BCS SliverData, possibly corrupt).
	Data []byte
}

// Quarantined returns every quarantined sliver, in key order.
func (s *Store) Quarantined(ctx context.Context) (out []QuarantinedSliver, err error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	defer s.release()
	lower, upper := prefixRange(prefixQuarantine)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, fmt.Errorf("nodestore: quarantined: %w", err)
	}
	defer closeAll(&err, it)
	for ok := it.First(); ok; ok = it.Next() {
		ref, err := parseSliverKey(it.Key())
		if err != nil {
			return nil, fmt.Errorf("nodestore: quarantined: %w", err)
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("nodestore: quarantined %s: %w", ref, err)
		}
		reason, data, err := decodeQuarantine(v)
		if err != nil {
			return nil, fmt.Errorf("nodestore: quarantined %s: %w", ref, err)
		}
		out = append(out, QuarantinedSliver{Ref: ref, Reason: reason, Data: bytes.Clone(data)})
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("nodestore: quarantined: %w", err)
	}
	return out, nil
}

// DeleteQuarantined adds the deletion of a quarantined sliver (if there is one) to the batch.
func (b *Batch) DeleteQuarantined(ref SliverRef) error {
	if err := checkAxis(ref.Axis); err != nil {
		return fmt.Errorf("nodestore: delete quarantined %s: %w", ref, err)
	}
	return b.b.Delete(ref.key(prefixQuarantine), nil)
}

// DeleteQuarantined deletes a quarantined sliver (synced).
func (s *Store) DeleteQuarantined(ctx context.Context, ref SliverRef) error {
	if err := checkAxis(ref.Axis); err != nil {
		return fmt.Errorf("nodestore: delete quarantined %s: %w", ref, err)
	}
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.release()
	if err := s.write(func(b *pebble.Batch) error { return b.Delete(ref.key(prefixQuarantine), nil) }); err != nil {
		return fmt.Errorf("nodestore: delete quarantined %s: %w", ref, err)
	}
	return nil
}
