package s3gw

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/floelabs/floe/client"
)

// index is the gateway's local, rebuildable view of its records, in Pebble: what the control
// plane's blob objects of the gateway's wallets say, kept sorted for listing. Keys (fields
// separated by NUL, which keys and bucket names cannot hold):
//
//	o NUL wallet NUL bucket NUL key NUL objectID       -> record (an object; several while an
//	                                                     overwrite is in flight: the newer wins)
//	b NUL wallet NUL bucket NUL objectID               -> record (a bucket marker)
//	c NUL wallet NUL of NUL part NUL seq NUL objectID  -> record (a chunk of an upload)
//	x NUL objectID                                     -> the primary key above
//	m NUL cursor                                       -> next control-plane event to apply
//
// Sorting by bucket NUL key keeps S3's order: NUL sorts before every byte a key may hold.
type index struct {
	db *pebble.DB
}

const sep = "\x00"

var cursorKey = []byte("m" + sep + "cursor")

// openIndex opens (or creates) the index in dir; an empty dir keeps it in memory.
func openIndex(dir string) (*index, error) {
	opts := &pebble.Options{Logger: quietLogger{}}
	if dir == "" {
		opts.FS = vfs.NewMem()
	}
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("s3gw: opening the index: %w", err)
	}
	return &index{db: db}, nil
}

func (ix *index) Close() error { return ix.db.Close() }

func objectPrefix(wallet client.Address, bucket string) string {
	return "o" + sep + wallet.String() + sep + bucket + sep
}

func bucketPrefix(wallet client.Address) string { return "b" + sep + wallet.String() + sep }

func chunkPrefix(wallet client.Address, of string) string {
	return "c" + sep + wallet.String() + sep + of + sep
}

func reverseKey(id client.ObjectID) []byte { return []byte("x" + sep + id.String()) }

// primaryKey returns where r lives.
func primaryKey(wallet client.Address, r *record) []byte {
	switch r.Kind {
	case kindBucket:
		return []byte(bucketPrefix(wallet) + r.Bucket + sep + r.ObjectID.String())
	case kindChunk:
		return []byte(fmt.Sprintf("%s%05d%s%07d%s%s", chunkPrefix(wallet, r.Of), r.Part, sep, r.Seq, sep, r.ObjectID))
	}
	return []byte(objectPrefix(wallet, r.Bucket) + r.Key + sep + r.ObjectID.String())
}

// put records r (replacing what its object ID said before).
func (ix *index) put(wallet client.Address, r *record) error {
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	b := ix.db.NewBatch()
	defer b.Close()
	if err := ix.deleteIn(b, r.ObjectID); err != nil {
		return err
	}
	pk := primaryKey(wallet, r)
	if err := b.Set(pk, v, nil); err != nil {
		return err
	}
	if err := b.Set(reverseKey(r.ObjectID), pk, nil); err != nil {
		return err
	}
	return b.Commit(pebble.NoSync)
}

// remove forgets an object ID.
func (ix *index) remove(id client.ObjectID) error {
	b := ix.db.NewBatch()
	defer b.Close()
	if err := ix.deleteIn(b, id); err != nil {
		return err
	}
	return b.Commit(pebble.NoSync)
}

func (ix *index) deleteIn(b *pebble.Batch, id client.ObjectID) error {
	pk, err := ix.get(reverseKey(id))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := b.Delete(pk, nil); err != nil {
		return err
	}
	return b.Delete(reverseKey(id), nil)
}

func (ix *index) get(k []byte) ([]byte, error) {
	v, closer, err := ix.db.Get(k)
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	return bytes.Clone(v), nil
}

// scan calls f for every record whose key starts with prefix and is at least from (a full
// key; empty for the prefix's start), in order, until f returns false.
func (ix *index) scan(prefix, from string, f func(k []byte, r *record) (bool, error)) error {
	lower := max(prefix, from)
	it, err := ix.db.NewIter(&pebble.IterOptions{LowerBound: []byte(lower), UpperBound: prefixEnd([]byte(prefix))})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		var r record
		if err := json.Unmarshal(it.Value(), &r); err != nil {
			return fmt.Errorf("s3gw: index record %q: %w", it.Key(), err)
		}
		more, err := f(it.Key(), &r)
		if err != nil || !more {
			return err
		}
	}
	return it.Error()
}

// prefixEnd returns the least key greater than every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// objects returns every record of bucket/key, the visible one (the newest) first.
func (ix *index) objects(wallet client.Address, bucket, key string) ([]*record, error) {
	var out []*record
	err := ix.scan(objectPrefix(wallet, bucket)+key+sep, "", func(_ []byte, r *record) (bool, error) {
		out = append(out, r)
		return true, nil
	})
	for i := 1; i < len(out); i++ {
		if out[i].newer(out[0]) {
			out[0], out[i] = out[i], out[0]
		}
	}
	return out, err
}

// object returns the visible record of bucket/key (nil if none).
func (ix *index) object(wallet client.Address, bucket, key string) (*record, error) {
	rs, err := ix.objects(wallet, bucket, key)
	if err != nil || len(rs) == 0 {
		return nil, err
	}
	return rs[0], nil
}

// buckets returns the wallet's bucket markers, one per name (the oldest), sorted by name.
func (ix *index) buckets(wallet client.Address) ([]*record, error) {
	var out []*record
	err := ix.scan(bucketPrefix(wallet), "", func(_ []byte, r *record) (bool, error) {
		if n := len(out); n > 0 && out[n-1].Bucket == r.Bucket {
			if out[n-1].newer(r) {
				out[n-1] = r
			}
			return true, nil
		}
		out = append(out, r)
		return true, nil
	})
	return out, err
}

// bucketMarkers returns every marker of a bucket, the oldest first (nil if it does not exist).
func (ix *index) bucketMarkers(wallet client.Address, bucket string) ([]*record, error) {
	var out []*record
	err := ix.scan(bucketPrefix(wallet)+bucket+sep, "", func(_ []byte, r *record) (bool, error) {
		out = append(out, r)
		return true, nil
	})
	for i := 1; i < len(out); i++ {
		if out[0].newer(out[i]) {
			out[0], out[i] = out[i], out[0]
		}
	}
	return out, err
}

// empty reports whether a bucket holds no object.
func (ix *index) empty(wallet client.Address, bucket string) (bool, error) {
	empty := true
	err := ix.scan(objectPrefix(wallet, bucket), "", func([]byte, *record) (bool, error) {
		empty = false
		return false, nil
	})
	return empty, err
}

// chunks returns the chunks of an upload in (part, seq) order.
func (ix *index) chunks(wallet client.Address, of string) ([]*record, error) {
	var out []*record
	err := ix.scan(chunkPrefix(wallet, of), "", func(_ []byte, r *record) (bool, error) {
		out = append(out, r)
		return true, nil
	})
	return out, err
}

// listing is one page of a bucket listing.
type listing struct {
	Objects   []*record
	Prefixes  []string
	Truncated bool
	// Next is the last key or common prefix of the page (where the next page starts after).
	Next string
}

// list returns up to maxKeys objects and common prefixes of bucket whose keys start with
// prefix and sort after marker, keys that hold delimiter after the prefix rolled up into
// their common prefix (S3's ListObjects semantics).
func (ix *index) list(wallet client.Address, bucket, prefix, delimiter, marker string, maxKeys int) (*listing, error) {
	base := objectPrefix(wallet, bucket)
	start := prefix
	if marker != "" && marker >= start {
		start = marker + "\x01" // past every record of the marker key
		if delimiter != "" && strings.HasPrefix(marker, prefix) && strings.HasSuffix(marker, delimiter) &&
			strings.Contains(marker[len(prefix):], delimiter) {
			// The marker is a common prefix: skip everything under it.
			start = string(prefixEnd([]byte(marker)))
		}
	}
	out := &listing{}
	for {
		var (
			cur     *record
			curKey  string
			rolled  string
			restart string
		)
		flush := func() bool {
			if cur == nil {
				return true
			}
			if len(out.Objects)+len(out.Prefixes) == maxKeys {
				out.Truncated = true
				return false
			}
			out.Objects = append(out.Objects, cur)
			out.Next = curKey
			cur = nil
			return true
		}
		full := false
		err := ix.scan(base+prefix, base+start, func(k []byte, r *record) (bool, error) {
			key := r.Key
			if key != curKey || cur == nil {
				if !flush() {
					full = true
					return false, nil
				}
			}
			if delimiter != "" {
				if i := strings.Index(key[len(prefix):], delimiter); i >= 0 {
					cp := key[:len(prefix)+i+len(delimiter)]
					if len(out.Objects)+len(out.Prefixes) == maxKeys {
						out.Truncated, full = true, true
						return false, nil
					}
					out.Prefixes = append(out.Prefixes, cp)
					out.Next = cp
					rolled = cp
					restart = string(prefixEnd([]byte(cp)))
					return false, nil
				}
			}
			if cur == nil || r.newer(cur) {
				cur = r
			}
			curKey = key
			return true, nil
		})
		if err != nil {
			return nil, err
		}
		if full {
			return out, nil
		}
		if !flush() {
			return out, nil
		}
		if rolled == "" {
			return out, nil
		}
		start = restart
	}
}

// expire forgets every record whose blob is no longer stored at epoch.
func (ix *index) expire(epoch uint32) (int, error) {
	b := ix.db.NewBatch()
	defer b.Close()
	n := 0
	for _, p := range []string{"o" + sep, "b" + sep, "c" + sep} {
		err := ix.scan(p, "", func(k []byte, r *record) (bool, error) {
			if r.End > epoch {
				return true, nil
			}
			n++
			if err := b.Delete(k, nil); err != nil {
				return false, err
			}
			return true, b.Delete(reverseKey(r.ObjectID), nil)
		})
		if err != nil {
			return 0, err
		}
	}
	return n, b.Commit(pebble.NoSync)
}

// cursor returns the next control-plane event to apply (0 for a new index).
func (ix *index) cursor() (uint64, error) {
	v, err := ix.get(cursorKey)
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("s3gw: index cursor of %d bytes", len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

func (ix *index) setCursor(c uint64) error {
	return ix.db.Set(cursorKey, binary.BigEndian.AppendUint64(nil, c), pebble.NoSync)
}

// reset forgets everything (before a rebuild from the control plane).
func (ix *index) reset() error {
	return ix.db.DeleteRange([]byte{0}, []byte{0xff}, pebble.NoSync)
}

// quietLogger drops Pebble's informational lines (the index is rebuildable; its errors
// surface as errors of the calls).
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf("s3gw index: "+format, args...))
}
