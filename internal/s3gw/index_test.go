package s3gw

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/floelabs/floe/client"
)

func testIndex(t *testing.T) *index {
	t.Helper()
	ix, err := openIndex("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	return ix
}

func oid(i int) client.ObjectID {
	var id client.ObjectID
	id[0], id[1], id[31] = byte(i>>8), byte(i), 1
	return id
}

// refList is S3's listing, computed the obvious way over a sorted key set.
func refList(keys []string, prefix, delim, marker string, maxKeys int) (objs, prefixes []string, truncated bool, next string) {
	var entries []string // objects and common prefixes, in order, each once
	isPrefix := map[string]bool{}
	for _, k := range keys {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		e := k
		if delim != "" {
			if i := strings.Index(k[len(prefix):], delim); i >= 0 {
				e = k[:len(prefix)+i+len(delim)]
				isPrefix[e] = true
			}
		}
		if len(entries) > 0 && entries[len(entries)-1] == e {
			continue
		}
		entries = append(entries, e)
	}
	for _, e := range entries {
		if e <= marker {
			continue
		}
		if len(objs)+len(prefixes) == maxKeys {
			return objs, prefixes, true, next
		}
		if isPrefix[e] {
			prefixes = append(prefixes, e)
		} else {
			objs = append(objs, e)
		}
		next = e
	}
	return objs, prefixes, false, next
}

func TestIndexList(t *testing.T) {
	ix := testIndex(t)
	w := client.Address{7}
	other := client.Address{8}
	r := rand.New(rand.NewPCG(1, 2))
	parts := []string{"a", "b", "a/", "ab", "/", "c/d", "é", "z", "-", "0"}
	set := map[string]bool{}
	n := 0
	for len(set) < 300 {
		var sb strings.Builder
		for range 1 + r.IntN(5) {
			sb.WriteString(parts[r.IntN(len(parts))])
		}
		k := sb.String()
		set[k] = true
		n++
		rec := &record{Kind: kindObject, ObjectID: oid(n), Bucket: "bkt", Key: k, MTimeMs: int64(n), Layout: layoutBlob, End: 100}
		if err := ix.put(w, rec); err != nil {
			t.Fatal(err)
		}
		// An older duplicate of some keys (an overwrite in flight), and noise elsewhere.
		if n%3 == 0 {
			n++
			old := *rec
			old.ObjectID, old.MTimeMs = oid(n), 0
			if err := ix.put(w, &old); err != nil {
				t.Fatal(err)
			}
		}
		n++
		noise := *rec
		noise.ObjectID, noise.Bucket = oid(n), "bkt2"
		ix.put(w, &noise)
		n++
		noise.ObjectID, noise.Bucket = oid(n), "bkt"
		ix.put(other, &noise)
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, prefix := range []string{"", "a", "a/", "ab", "c/", "zz"} {
		for _, delim := range []string{"", "/", "b", "a/"} {
			for _, maxKeys := range []int{1, 2, 7, 1000} {
				// Page through with each page's Next as the following marker, as clients do.
				var gotO, gotP, wantO, wantP []string
				marker := ""
				for page := 0; ; page++ {
					l, err := ix.list(w, "bkt", prefix, delim, marker, maxKeys)
					if err != nil {
						t.Fatal(err)
					}
					o, p, tr, next := refList(keys, prefix, delim, marker, maxKeys)
					var lo []string
					for _, r := range l.Objects {
						lo = append(lo, r.Key)
						if r.MTimeMs == 0 {
							t.Fatalf("the replaced record of %q was listed", r.Key)
						}
					}
					desc := fmt.Sprintf("prefix %q delim %q max %d marker %q", prefix, delim, maxKeys, marker)
					if !slices.Equal(lo, o) || !slices.Equal(l.Prefixes, p) || l.Truncated != tr || (tr && l.Next != next) {
						t.Fatalf("%s:\n got %q %q %v %q\nwant %q %q %v %q", desc, lo, l.Prefixes, l.Truncated, l.Next, o, p, tr, next)
					}
					gotO, gotP = append(gotO, lo...), append(gotP, l.Prefixes...)
					wantO, wantP = append(wantO, o...), append(wantP, p...)
					if !l.Truncated {
						break
					}
					marker = l.Next
					if page > len(keys) {
						t.Fatalf("%s: no end", desc)
					}
				}
				if !slices.Equal(gotO, wantO) || !slices.Equal(gotP, wantP) {
					t.Fatalf("all pages differ")
				}
			}
		}
	}
}

func TestIndexRecords(t *testing.T) {
	ix := testIndex(t)
	w := client.Address{1}
	older := &record{Kind: kindObject, ObjectID: oid(1), Bucket: "b1b", Key: "k", MTimeMs: 5, Layout: layoutBlob, End: 10}
	newer := &record{Kind: kindObject, ObjectID: oid(2), Bucket: "b1b", Key: "k", MTimeMs: 6, Layout: layoutBlob, End: 20}
	for _, r := range []*record{newer, older,
		{Kind: kindBucket, ObjectID: oid(3), Bucket: "b1b", MTimeMs: 9, End: 50},
		{Kind: kindBucket, ObjectID: oid(4), Bucket: "b1b", MTimeMs: 8, End: 50, Epochs: 4},
		{Kind: kindChunk, ObjectID: oid(5), Bucket: "b1b", Key: "k", Of: "u", Part: 2, Seq: 0, End: 10},
		{Kind: kindChunk, ObjectID: oid(6), Bucket: "b1b", Key: "k", Of: "u", Part: 1, Seq: 1, End: 10},
	} {
		if err := ix.put(w, r); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := ix.object(w, "b1b", "k"); got == nil || got.ObjectID != newer.ObjectID {
		t.Fatalf("visible object %+v", got)
	}
	if ms, _ := ix.bucketMarkers(w, "b1b"); len(ms) != 2 || ms[0].Epochs != 4 {
		t.Fatalf("markers %+v", ms)
	}
	if bs, _ := ix.buckets(w); len(bs) != 1 {
		t.Fatalf("buckets %+v", bs)
	}
	if cs, _ := ix.chunks(w, "u"); len(cs) != 2 || cs[0].Part != 1 {
		t.Fatalf("chunks %+v", cs)
	}
	// A record that changes kind or key replaces its old entry.
	moved := *older
	moved.Key = "k2"
	ix.put(w, &moved)
	if rs, _ := ix.objects(w, "b1b", "k"); len(rs) != 1 {
		t.Fatalf("after a move: %d records of k", len(rs))
	}
	if n, err := ix.expire(10); err != nil || n != 3 {
		t.Fatalf("expire: %d %v", n, err)
	}
	if got, _ := ix.object(w, "b1b", "k2"); got != nil {
		t.Fatal("an expired object is still visible")
	}
	if empty, _ := ix.empty(w, "b1b"); empty {
		t.Fatal("the bucket with a live object is empty")
	}
	ix.remove(newer.ObjectID)
	if empty, _ := ix.empty(w, "b1b"); !empty {
		t.Fatal("the bucket is not empty")
	}
	if err := ix.setCursor(42); err != nil {
		t.Fatal(err)
	}
	if c, _ := ix.cursor(); c != 42 {
		t.Fatalf("cursor %d", c)
	}
	ix.reset()
	if c, _ := ix.cursor(); c != 0 {
		t.Fatalf("cursor after reset %d", c)
	}
}
