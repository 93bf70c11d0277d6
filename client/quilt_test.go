package client_test

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/client"
	"github.com/floelabs/floe/internal/storagenode/byzantine"
	"github.com/floelabs/floe/quilt"
	"github.com/floelabs/floe/redstuff"
)

// testPatches returns k patches of varied sizes; every third has tags.
func testPatches(k int, seed uint64) []quilt.Patch {
	var ps []quilt.Patch
	for i := range k {
		p := quilt.Patch{Identifier: fmt.Sprintf("file-%02d.bin", i), Data: testData(100+i*997, seed+uint64(i))}
		if i%3 == 0 {
			p.Tags = map[string]string{"kind": "third", "n": fmt.Sprint(i)}
		}
		ps = append(ps, p)
	}
	return ps
}

func TestQuiltStoreRead(t *testing.T) {
	tn := shared(t)
	c := newClient(t, tn)
	ctx := ctxFor(t)
	patches := testPatches(20, newSeed())
	res, err := c.StoreQuilt(ctx, patches, client.StoreOptions{Epochs: 2})
	if err != nil {
		t.Fatal(err)
	}
	// The quilt ID and patch IDs are those of the quilt built offline.
	q, err := quilt.Encode(testShards, patches)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := redstuff.New(testShards)
	if err != nil {
		t.Fatal(err)
	}
	md, err := q.Metadata(enc)
	if err != nil {
		t.Fatal(err)
	}
	if res.BlobID != md.ID || !res.NewlyCreated || len(res.Patches) != len(patches) {
		t.Fatalf("store: quilt %s (offline %s), newly created %v, %d patches", res.BlobID, md.ID, res.NewlyCreated, len(res.Patches))
	}
	for i, pid := range q.Index.PatchIDs(md.ID) {
		if res.Patches[i].PatchID != pid || res.Patches[i].Identifier != q.Index.Patches[i].Identifier {
			t.Fatalf("patch %d: %s %q, offline %s %q", i, res.Patches[i].PatchID, res.Patches[i].Identifier, pid, q.Index.Patches[i].Identifier)
		}
	}
	obj, err := c.BlobByObjectID(ctx, res.ObjectID)
	if err != nil {
		t.Fatal(err)
	}
	if obj.Attributes[client.AttrBlobType] != client.BlobTypeQuilt {
		t.Fatalf("quilt object attributes %v", obj.Attributes)
	}

	list, err := c.ListQuiltPatches(ctx, res.BlobID)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(list) != fmt.Sprint(res.Patches) {
		t.Fatalf("ListQuiltPatches:\n%v\nstored:\n%v", list, res.Patches)
	}
	byID := map[string]quilt.Patch{}
	for _, p := range patches {
		byID[p.Identifier] = p
	}
	check := func(what string, got []client.QuiltPatch, want []string) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d patches, want %d", what, len(got), len(want))
		}
		for i, p := range got {
			w := byID[want[i]]
			if p.Identifier != w.Identifier || !bytes.Equal(p.Data, w.Data) || fmt.Sprint(p.Tags) != fmt.Sprint(w.Tags) {
				t.Fatalf("%s: patch %d is %q (%d bytes, tags %v), want %q (%d bytes, tags %v)", what, i, p.Identifier, len(p.Data), p.Tags, w.Identifier, len(w.Data), w.Tags)
			}
		}
	}
	// By identifier: the index columns, then only the patches' own columns.
	want := []string{"file-07.bin", "file-01.bin"}
	r, err := c.ReadQuiltPatches(ctx, res.BlobID, want)
	if err != nil {
		t.Fatal(err)
	}
	check("by identifier", r.Patches, want)
	cols := q.Index.Columns
	for _, id := range want {
		e, _ := q.Index.Lookup(id)
		cols += e.End - e.Start
	}
	if r.Stats.Columns != cols || r.Stats.Recovered != 0 || r.Stats.FullRead || r.Stats.SliverBytes > int64(cols*(q.Layout.ColumnSize()+64)) {
		t.Fatalf("by identifier fetched %+v; want %d columns of %d bytes", r.Stats, cols, q.Layout.ColumnSize())
	}
	// By tag.
	r, err = c.ReadQuiltPatchesByTag(ctx, res.BlobID, "kind", "third")
	if err != nil {
		t.Fatal(err)
	}
	check("by tag", r.Patches, []string{"file-00.bin", "file-03.bin", "file-06.bin", "file-09.bin", "file-12.bin", "file-15.bin", "file-18.bin"})
	// By patch ID: no index columns.
	r, err = c.ReadQuiltPatchesByID(ctx, []quilt.PatchID{res.Patches[19].PatchID, res.Patches[5].PatchID})
	if err != nil {
		t.Fatal(err)
	}
	check("by patch ID", r.Patches, []string{"file-19.bin", "file-05.bin"})
	e19, e5 := q.Index.Patches[19], q.Index.Patches[5]
	if n := (e19.End - e19.Start) + (e5.End - e5.Start); r.Stats.Columns != n {
		t.Fatalf("by patch ID fetched %d columns, want %d", r.Stats.Columns, n)
	}
	// Everything.
	r, err = c.ReadQuilt(ctx, res.BlobID)
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, e := range q.Index.Patches {
		all = append(all, e.Identifier)
	}
	check("whole quilt", r.Patches, all)

	// Errors.
	if _, err := c.ReadQuiltPatches(ctx, res.BlobID, []string{"nope"}); !errors.Is(err, client.ErrQuiltPatchNotFound) {
		t.Fatalf("unknown identifier: %v", err)
	}
	bad := res.Patches[0].PatchID
	bad.Patch = quilt.InternalID{Start: uint16(q.Layout.Columns), End: uint16(q.Layout.Columns + 1)}
	if _, err := c.ReadQuiltPatch(ctx, bad); !errors.Is(err, client.ErrQuiltPatchNotFound) {
		t.Fatalf("patch ID beyond the quilt: %v", err)
	}
	plain, err := c.StoreBytes(ctx, testData(5000, newSeed()), client.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListQuiltPatches(ctx, plain.BlobID); !errors.Is(err, client.ErrNotQuilt) {
		t.Fatalf("a blob that is not a quilt: %v", err)
	}
	// Storing again finds it certified and leaves the attribute as it is.
	again, err := c.StoreQuilt(ctx, patches, client.StoreOptions{Epochs: 1})
	if err != nil || !again.AlreadyCertified || again.BlobID != res.BlobID {
		t.Fatalf("second store: %+v %v", again, err)
	}
}

// TestQuiltColumnRecovery reads patches with the nodes holding f, then 2f, shards stopped:
// columns those nodes held are rebuilt from the other nodes' recovery symbols, and the whole
// quilt is never read. The client is steady: every node got its slivers before the store
// returned, and a column is recovered only because its node is down, not because it was slow
// (a stall is TestQuiltByzantine's).
func TestQuiltColumnRecovery(t *testing.T) {
	tn := newNetwork(t, netOptions{Shards: testShards, Stakes: testStakes})
	c := newClientWith(t, tn, steady)
	ctx := ctxFor(t)
	patches := testPatches(24, newSeed())
	res, err := c.StoreQuilt(ctx, patches, client.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string][]byte{}
	for _, p := range patches {
		byID[p.Identifier] = p.Data
	}
	readAll := func(what string) client.QuiltReadStats {
		t.Helper()
		var total client.QuiltReadStats
		for _, p := range res.Patches {
			r, err := c.ReadQuiltPatchesByID(ctx, []quilt.PatchID{p.PatchID})
			if err != nil {
				t.Fatalf("%s: %s: %v", what, p.Identifier, err)
			}
			if !bytes.Equal(r.Patches[0].Data, byID[p.Identifier]) {
				t.Fatalf("%s: %s: wrong bytes", what, p.Identifier)
			}
			total.Columns += r.Stats.Columns
			total.Recovered += r.Stats.Recovered
			total.SymbolBytes += r.Stats.SymbolBytes
			total.FullRead = total.FullRead || r.Stats.FullRead
		}
		return total
	}
	// heldBy counts the patch columns whose secondary sliver the named nodes hold.
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	heldBy := func(names ...string) int {
		n := 0
		for _, p := range res.Patches {
			for col := p.PatchID.Patch.Start; col < p.PatchID.Patch.End; col++ {
				shard := blob.ShardIndex(res.BlobID, testShards, testShards-1-int(col))
				for _, m := range info.Committee.Members {
					if slices.Contains(names, m.Name) && slices.Contains(m.Shards, uint16(shard)) {
						n++
					}
				}
			}
		}
		return n
	}
	if st := readAll("all nodes up"); st.Recovered != 0 || st.FullRead {
		t.Fatalf("all nodes up: %+v", st)
	}
	// Nodes 0 and 1 hold f = 13 of the 40 shards each. Shards are assigned in runs, so one of
	// them may hold none of the quilt's 26 columns (about one run in 20): stop first the one
	// that holds some (together they hold 26 shards, so at least one does).
	first, second := tn.Nodes[0], tn.Nodes[1]
	if heldBy(first.Name) == 0 {
		first, second = second, first
	}
	first.Stop()
	st := readAll("f shards down")
	if want := heldBy(first.Name); st.Recovered != want || want == 0 || st.SymbolBytes == 0 || st.FullRead {
		t.Fatalf("f shards down: %+v, want the %d columns %s held recovered", st, want, first.Name)
	}
	t.Logf("f shards down: %d of %d columns recovered from %d bytes of recovery symbols", st.Recovered, st.Columns, st.SymbolBytes)
	second.Stop() // 2f down: exactly K_p primary slivers remain
	st = readAll("2f shards down")
	if want := heldBy(first.Name, second.Name); st.Recovered != want || st.FullRead {
		t.Fatalf("2f shards down: %+v, want the %d columns nodes 0 and 1 held recovered", st, want)
	}
	t.Logf("2f shards down: %d of %d columns recovered from %d bytes of recovery symbols", st.Recovered, st.Columns, st.SymbolBytes)
}

// TestQuiltByzantine reads patches while the node holding f shards serves corrupt slivers and
// recovery symbols and another stalls: corrupt columns are refused, stalled ones are not
// waited for, and both are rebuilt from the honest nodes' symbols.
func TestQuiltByzantine(t *testing.T) {
	tn := newNetwork(t, netOptions{Shards: testShards, Stakes: testStakes})
	c := newClientWith(t, tn, func(cfg *client.Config) {
		cfg.Communication.ReadStallTimeout = 200 * time.Millisecond
	})
	ctx := ctxFor(t)
	patches := testPatches(24, newSeed())
	res, err := c.StoreQuilt(ctx, patches, client.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tn.Nodes[0].Stop()
	if err := tn.Nodes[0].StartByzantine(byzantine.CorruptSlivers); err != nil {
		t.Fatal(err)
	}
	tn.Nodes[2].Stop()
	if err := tn.Nodes[2].StartByzantine(byzantine.StallSlivers); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range patches {
		ids = append(ids, p.Identifier)
	}
	r, err := c.ReadQuiltPatches(ctx, res.BlobID, ids)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range r.Patches {
		if p.Identifier != patches[i].Identifier || !bytes.Equal(p.Data, patches[i].Data) {
			t.Fatalf("patch %d: %q, wrong bytes", i, p.Identifier)
		}
	}
	if r.Stats.Recovered == 0 || r.Stats.FullRead {
		t.Fatalf("stats %+v: the lying and stalled nodes' columns should be recovered", r.Stats)
	}
	t.Logf("one node corrupt, one stalled: %d of %d columns recovered", r.Stats.Recovered, r.Stats.Columns)
}
