package nodestore

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/redstuff"
)

// bigSliver returns a valid sliver of 128 KiB (over extentMinSliver), seeded.
func bigSliver(a redstuff.Axis, index int, seed uint64) redstuff.Sliver {
	data := make([]byte, 128<<10)
	r := rand.New(rand.NewPCG(seed, uint64(a)))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	return redstuff.Sliver{Axis: a, Index: index, SymbolSize: 64, Data: data}
}

// putBig commits, in one batch, the big sliver pairs of blob bid on shards (2 x 128 KiB each;
// 4 shards or more make an extent at the default threshold).
func putBig(t *testing.T, s *Store, bid blob.ID, seed uint64, shards ...uint16) {
	t.Helper()
	b := s.NewBatch()
	defer b.Close()
	for _, sh := range shards {
		for _, a := range []redstuff.Axis{redstuff.Primary, redstuff.Secondary} {
			data := mustSliverData(t, bigSliver(a, int(sh), seed+uint64(sh)))
			if err := b.PutSliverData(sh, bid, a, data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.Commit(context.Background(), b); err != nil {
		t.Fatal(err)
	}
}

func checkBig(t *testing.T, s *Store, bid blob.ID, seed uint64, shards ...uint16) {
	t.Helper()
	for _, sh := range shards {
		for _, a := range []redstuff.Axis{redstuff.Primary, redstuff.Secondary} {
			got, err := s.Sliver(context.Background(), sh, bid, a)
			if err != nil {
				t.Fatalf("shard %d %s: %v", sh, a, err)
			}
			if want := bigSliver(a, int(sh), seed+uint64(sh)); !sliverEqual(got, want) {
				t.Fatalf("shard %d %s: wrong sliver read back", sh, a)
			}
		}
	}
}

func extentFiles(t *testing.T, s *Store) []uint64 {
	t.Helper()
	ids, err := s.ext.list()
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestExtentRefIsNoSliverData(t *testing.T) {
	// PutSliverData stores only bytes that decode as SliverData: an extent reference must
	// never decode, or an uploaded body could pose as one.
	v := extentRef{file: 1, off: 2, length: 3, crc: 4}.encode()
	if len(v) != extentRefLen {
		t.Fatalf("reference of %d bytes, want %d", len(v), extentRefLen)
	}
	for _, a := range []redstuff.Axis{redstuff.Primary, redstuff.Secondary} {
		if _, err := blob.UnmarshalSliverData(v, a); err == nil {
			t.Fatalf("an extent reference decodes as %s SliverData", a)
		}
	}
	s := openMem(t)
	if err := s.PutSliverData(context.Background(), 1, id(1), redstuff.Primary, v); !errors.Is(err, ErrInvalid) {
		t.Fatalf("PutSliverData of an extent reference: %v, want ErrInvalid", err)
	}
	if r, ok := parseExtentRef(v); !ok || r != (extentRef{1, 2, 3, 4}) {
		t.Fatalf("parseExtentRef: %+v %v", r, ok)
	}
}

func TestExtentsWrittenAndRead(t *testing.T) {
	ctx := context.Background()
	fs := vfs.NewMem()
	s, err := Open("db", &Options{FS: fs, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	// A small batch stays in Pebble.
	putBig(t, s, id(1), 10, 1)
	if ids := extentFiles(t, s); len(ids) != 0 {
		t.Fatalf("a 256 KiB batch wrote extent files %v", ids)
	}
	// A large one goes to one extent file.
	putBig(t, s, id(2), 20, 1, 2, 3, 4, 5)
	if ids := extentFiles(t, s); len(ids) != 1 {
		t.Fatalf("extent files %v, want one", ids)
	}
	checkBig(t, s, id(1), 10, 1)
	checkBig(t, s, id(2), 20, 1, 2, 3, 4, 5)
	page, err := s.ShardSlivers(ctx, 3, redstuff.Secondary, blob.ID{}, 0)
	if err != nil || len(page) != 1 || !sliverEqual(page[0].Sliver, bigSliver(redstuff.Secondary, 3, 23)) {
		t.Fatalf("ShardSlivers: %d slivers, %v", len(page), err)
	}
	if u, err := s.DiskUsage(); err != nil || u < 5*2*128<<10 {
		t.Fatalf("DiskUsage %d, %v: the extent is not counted", u, err)
	}
	// Reopened, everything reads the same.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open("db", &Options{FS: fs, Logger: testLogger(t)}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkBig(t, s, id(1), 10, 1)
	checkBig(t, s, id(2), 20, 1, 2, 3, 4, 5)
	rep, err := s.Scrub(ctx, func(SliverRef, redstuff.Sliver) error { return nil })
	if err != nil || rep.Checked != 12 || len(rep.Quarantined) != 0 {
		t.Fatalf("Scrub: %+v, %v", rep, err)
	}
	if ids := extentFiles(t, s); len(ids) != 1 {
		t.Fatalf("extent files %v after reopening, want one", ids)
	}

	// The file goes once none of its slivers is left.
	for _, sh := range []uint16{1, 2, 3, 4} {
		if err := s.DropShard(ctx, sh); err != nil {
			t.Fatal(err)
		}
	}
	if ids := extentFiles(t, s); len(ids) != 1 {
		t.Fatalf("extent files %v while shard 5 holds slivers in it, want one", ids)
	}
	checkBig(t, s, id(2), 20, 5)
	if err := s.DeleteSliver(ctx, 5, id(2), redstuff.Primary); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSliver(ctx, 5, id(2), redstuff.Secondary); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CollectGarbage(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if ids := extentFiles(t, s); len(ids) != 0 {
		t.Fatalf("extent files %v after every sliver in them was deleted", ids)
	}
}

func TestExtentThresholdOption(t *testing.T) {
	s, err := Open("db", &Options{FS: vfs.NewMem(), Logger: testLogger(t), ExtentThreshold: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	putBig(t, s, id(2), 20, 1, 2, 3, 4, 5)
	if ids := extentFiles(t, s); len(ids) != 0 {
		t.Fatalf("ExtentThreshold -1 wrote extent files %v", ids)
	}
	checkBig(t, s, id(2), 20, 1, 2, 3, 4, 5)
}

func TestExtentCorruptionIsDetected(t *testing.T) {
	ctx := context.Background()
	fs := vfs.NewMem()
	s, err := Open("db", &Options{FS: fs, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	putBig(t, s, id(2), 20, 1, 2, 3, 4, 5)
	ids := extentFiles(t, s)
	if len(ids) != 1 {
		t.Fatalf("extent files %v", ids)
	}
	// Flip a byte of the first sliver's data (past its uleb128 length).
	f, err := fs.OpenReadWrite(s.ext.path(ids[0]), vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	var b [1]byte
	if _, err := f.ReadAt(b[:], 100); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x40
	if _, err := f.WriteAt(b[:], 100); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SliverData(ctx, 1, id(2), redstuff.Primary); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("reading a corrupt extent: %v, want ErrCorrupt", err)
	}
	checkBig(t, s, id(2), 20, 2, 3, 4, 5) // the others are intact
	rep, err := s.Scrub(ctx, func(SliverRef, redstuff.Sliver) error { return nil })
	if err != nil || len(rep.Quarantined) != 1 || rep.Quarantined[0] != (SliverRef{1, id(2), redstuff.Primary}) {
		t.Fatalf("Scrub: %+v, %v; want the corrupt sliver quarantined", rep, err)
	}
	q, err := s.Quarantined(ctx)
	if err != nil || len(q) != 1 || len(q[0].Data) != len(mustSliverData(t, bigSliver(redstuff.Primary, 1, 21))) {
		t.Fatalf("Quarantined: %d records, %v; want the corrupt bytes kept", len(q), err)
	}
	// A missing file is corruption too.
	if err := fs.Remove(s.ext.path(ids[0])); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SliverData(ctx, 2, id(2), redstuff.Primary); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("reading a missing extent: %v, want ErrCorrupt", err)
	}
}

func TestExtentSweep(t *testing.T) {
	fs := vfs.NewMem()
	s, err := Open("db", &Options{FS: fs, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	putBig(t, s, id(2), 20, 1, 2, 3, 4, 5)
	// An extent in flight (written, its batch not committed yet) survives a sweep; once no
	// longer in flight and still unreferenced, it goes.
	var ws []extentWrite
	for i := range 10 {
		ws = append(ws, extentWrite{key: []byte{byte(i)}, data: mustSliverData(t, bigSliver(redstuff.Primary, i, 99))})
	}
	_, fid, err := s.ext.write(ws)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.sweepExtents(); err != nil {
		t.Fatal(err)
	}
	if ids := extentFiles(t, s); len(ids) != 2 {
		t.Fatalf("extent files %v, want the committed one and the one in flight", ids)
	}
	s.ext.done(fid)
	if n, err := s.sweepExtents(); err != nil || n != 1 {
		t.Fatalf("sweep deleted %d, %v; want the orphan", n, err)
	}
	// An orphan left by a crash is deleted at Open, and ids are not reused.
	if _, _, err := s.ext.write(ws); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open("db", &Options{FS: fs, Logger: testLogger(t)}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ids := extentFiles(t, s)
	if len(ids) != 1 {
		t.Fatalf("extent files %v after Open, want only the referenced one", ids)
	}
	if s.ext.next <= fid+1 {
		t.Fatalf("next extent id %d, want > %d", s.ext.next, fid+1)
	}
	checkBig(t, s, id(2), 20, 1, 2, 3, 4, 5)
}

// TestExtentsSurviveCrash: an acknowledged batch whose slivers went to an extent reads back
// after a crash that loses every unsynced byte.
func TestExtentsSurviveCrash(t *testing.T) {
	mem := vfs.NewCrashableMem()
	s, err := Open("db", &Options{FS: mem, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	putBig(t, s, id(2), 20, 1, 2, 3, 4, 5)
	clone := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0, RNG: rand.New(rand.NewPCG(1, 2))})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open("db", &Options{FS: clone, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkBig(t, s, id(2), 20, 1, 2, 3, 4, 5)
}

func TestNewSliverBatchRoom(t *testing.T) {
	// A batch for 32 slivers of 128 KiB (an upload request's 4 MiB) has room for their
	// extent references, not their bytes; one for slivers too few bytes for an extent has
	// room for the bytes.
	s := openMem(t)
	lens := make([]int, 32)
	for i := range lens {
		lens[i] = 128 << 10
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b := s.NewSliverBatch(lens)
	runtime.ReadMemStats(&after)
	b.Close()
	if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
		t.Fatalf("a batch of extent references allocated %d bytes", got)
	}
	runtime.ReadMemStats(&before)
	b = s.NewSliverBatch(lens[:2])
	runtime.ReadMemStats(&after)
	b.Close()
	if got := after.TotalAlloc - before.TotalAlloc; got < 256<<10 {
		t.Fatalf("a batch of two inline slivers allocated %d bytes, want room for their 256 KiB", got)
	}
}

// TestExtentBytes: the extents' disk usage, kept without listing the files, is the sum of
// the sizes of the extent files on disk after writes, a file left in flight, deletions and
// sweeps, and a reopening; on the operating system's file system (direct I/O) and in memory.
func TestExtentBytes(t *testing.T) {
	for _, c := range []struct {
		name string
		fs   vfs.FS
		dir  string
	}{{"mem", vfs.NewMem(), "db"}, {"os", nil, t.TempDir()}} {
		t.Run(c.name, func(t *testing.T) {
			fsys := c.fs
			if fsys == nil {
				fsys = vfs.Default
			}
			open := func() *Store {
				s, err := Open(c.dir, &Options{FS: c.fs, Logger: testLogger(t)})
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
			check := func(s *Store, files int) {
				t.Helper()
				ids := extentFiles(t, s)
				var want int64
				for _, id := range ids {
					st, err := fsys.Stat(s.ext.path(id))
					if err != nil {
						t.Fatal(err)
					}
					want += st.Size()
				}
				if len(ids) != files {
					t.Fatalf("%d extent files, want %d", len(ids), files)
				}
				if got := s.ext.size(); got != uint64(want) {
					t.Fatalf("extent bytes %d, want %d, the sum of the files' sizes", got, want)
				}
				if u, err := s.DiskUsage(); err != nil || u < uint64(want) {
					t.Fatalf("DiskUsage %d, %v: less than the extents' %d bytes", u, err, want)
				}
			}
			s := open()
			check(s, 0)
			putBig(t, s, id(1), 10, 1, 2, 3, 4, 5)
			putBig(t, s, id(2), 20, 6, 7, 8, 9)
			check(s, 2)
			var ws []extentWrite
			for i := range 7 {
				ws = append(ws, extentWrite{key: []byte{byte(i)}, data: mustSliverData(t, bigSliver(redstuff.Primary, i, 99))})
			}
			_, inflight, err := s.ext.write(ws)
			if err != nil {
				t.Fatal(err)
			}
			check(s, 3)
			// Dropping the second batch's shards leaves its file unreferenced: swept; the one in
			// flight stays.
			for _, sh := range []uint16{6, 7, 8, 9} {
				if err := s.DropShard(context.Background(), sh); err != nil {
					t.Fatal(err)
				}
			}
			check(s, 2)
			s.ext.done(inflight)
			if n, err := s.sweepExtents(); err != nil || n != 1 {
				t.Fatalf("sweep deleted %d, %v; want the file no longer in flight", n, err)
			}
			check(s, 1)
			putBig(t, s, id(3), 30, 10, 11, 12, 13)
			check(s, 2)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = open()
			defer s.Close()
			check(s, 2)
			checkBig(t, s, id(1), 10, 1, 2, 3, 4, 5)
		})
	}
}

// TestPutSliverDataSum: the sum a caller gives with a sliver is the checksum its extent keeps
// (the right one reads back; a wrong one reads back as corrupt, and the sliver written with
// it alone), and it is ignored where a sliver stays in Pebble (too few bytes for an extent).
func TestPutSliverDataSum(t *testing.T) {
	ctx := context.Background()
	s, err := Open("db", &Options{FS: vfs.NewMem(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b := s.NewBatch()
	defer b.Close()
	for _, sh := range []uint16{1, 2, 3, 4, 5} {
		for _, a := range []redstuff.Axis{redstuff.Primary, redstuff.Secondary} {
			data := mustSliverData(t, bigSliver(a, int(sh), 20+uint64(sh)))
			sum := SliverSum(data)
			if sh == 3 && a == redstuff.Secondary {
				sum ^= 1
			}
			if err := b.PutSliverDataSum(sh, id(2), a, data, sum); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.Commit(ctx, b); err != nil {
		t.Fatal(err)
	}
	if ids := extentFiles(t, s); len(ids) != 1 {
		t.Fatalf("extent files %v, want one", ids)
	}
	checkBig(t, s, id(2), 20, 1, 2, 4, 5)
	if _, err := s.SliverData(ctx, 3, id(2), redstuff.Primary); err != nil {
		t.Fatalf("the sliver with the right sum: %v", err)
	}
	if _, err := s.SliverData(ctx, 3, id(2), redstuff.Secondary); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("the sliver given a wrong sum: %v, want ErrCorrupt", err)
	}

	small, err := Open("small", &Options{FS: vfs.NewMem(), Logger: testLogger(t), ExtentThreshold: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	data := mustSliverData(t, bigSliver(redstuff.Primary, 1, 7))
	sb := small.NewBatch()
	defer sb.Close()
	if err := sb.PutSliverDataSum(1, id(3), redstuff.Primary, data, SliverSum(data)^1); err != nil {
		t.Fatal(err)
	}
	if err := small.Commit(ctx, sb); err != nil {
		t.Fatal(err)
	}
	if got, err := small.SliverData(ctx, 1, id(3), redstuff.Primary); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("a sliver kept in Pebble: %v", err)
	}
}
