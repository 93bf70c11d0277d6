package nodestore

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/floelabs/floe/internal/uring"
	"github.com/floelabs/floe/redstuff"
)

// randomParts returns buffers of the given lengths filled from seed.
func randomParts(seed uint64, lengths ...int) [][]byte {
	r := rand.New(rand.NewPCG(seed, 1))
	var out [][]byte
	for _, n := range lengths {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		out = append(out, b)
	}
	return out
}

func TestExtentsDirectOnDisk(t *testing.T) {
	// A store on the operating system's file system writes its extents with direct I/O: 40
	// slivers of 128 KiB + header are 5 MiB and more, more than one staging buffer, and not a
	// multiple of the alignment.
	s, err := Open(t.TempDir(), &Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	shards := make([]uint16, 20)
	for i := range shards {
		shards[i] = uint16(i)
	}
	putBig(t, s, id(7), 70, shards...)
	if !s.ext.direct.Load() {
		t.Skipf("the file system of %s refuses direct I/O: only the buffered writes were tested", os.TempDir())
	}
	if r, err := uring.New(2); err == nil {
		_ = r.Close()
		if s.ext.dw.ring == nil {
			t.Fatal("the kernel provides io_uring, yet the store writes its extents without a ring")
		}
	}
	ids := extentFiles(t, s)
	if len(ids) != 1 {
		t.Fatalf("extent files %v, want one", ids)
	}
	st, err := os.Stat(s.ext.path(ids[0]))
	if err != nil {
		t.Fatal(err)
	}
	// Each sliver starts at a multiple of the alignment; the file ends with the last one.
	var want int64
	for _, sh := range shards {
		for _, a := range []redstuff.Axis{redstuff.Primary, redstuff.Secondary} {
			want = int64(alignUp(int(want))) + int64(len(mustSliverData(t, bigSliver(a, int(sh), 70+uint64(sh)))))
		}
	}
	if st.Size() != want {
		t.Fatalf("extent file of %d bytes, want %d (the padding of the last direct write cut off)", st.Size(), want)
	}
	checkBig(t, s, id(7), 70, shards...)
}

func TestDirectWriterLayout(t *testing.T) {
	// Buffers of every alignment and length, some larger than the staging buffer, some more
	// than one writev takes: each is in the file at its offset (a multiple of the alignment),
	// the gaps hold zeros and the file ends with the last buffer. With the usual system calls
	// and through a ring (internal/uring), which also syncs the directory.
	t.Run("syscalls", func(t *testing.T) { testDirectWriterLayout(t, &directWriter{dirFd: -1}) })
	t.Run("ring", func(t *testing.T) {
		r, err := uring.New(16)
		if errors.Is(err, uring.ErrUnsupported) {
			t.Skipf("no io_uring: %v", err)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		testDirectWriterLayout(t, &directWriter{ring: r, dirFd: -1})
	})
}

func testDirectWriterLayout(t *testing.T, d *directWriter) {
	dir := t.TempDir()
	if d.ring != nil {
		df, err := os.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer df.Close()
		d.dirFd = int(df.Fd())
	}
	aligned := func(b []byte) []byte { a := alignedBuffer(len(b)); copy(a, b); return a }
	many := make([]int, iovMax+3)
	for i := range many {
		many[i] = directAlign + 1 + i
	}
	for i, lengths := range [][]int{
		{1},
		{directAlign},
		{directStage},
		{directStage - 1, 2, directAlign + 3},
		{3 << 20, 3 << 20, 5, 0, 1 << 20},
		{2*directStage + 7, 1},
		many,
	} {
		parts := randomParts(uint64(i), lengths...)
		for j := range parts {
			switch {
			case j%3 == 0:
				parts[j] = aligned(parts[j])
			case j%3 == 1 && len(parts[j]) > 1:
				parts[j] = aligned(append([]byte{0}, parts[j]...))[1:] // one byte past an alignment
			}
		}
		path := filepath.Join(dir, "f")
		offs, dirSynced, err := d.write(path, parts)
		if err == errDirectUnsupported {
			t.Skipf("the file system of %s refuses direct I/O", dir)
		}
		if err != nil {
			t.Fatal(err)
		}
		if dirSynced != (d.ring != nil) {
			t.Fatalf("directory synced %v, with a ring %v", dirSynced, d.ring != nil)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var want []byte
		for j, p := range parts {
			if offs[j] != uint64(alignUp(len(want))) {
				t.Fatalf("case %d: buffer %d at %d, want %d", i, j, offs[j], alignUp(len(want)))
			}
			want = append(want, make([]byte, alignUp(len(want))-len(want))...)
			want = append(want, p...)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("case %d: file of %d bytes does not hold the %d bytes written at their offsets", i, len(got), len(want))
		}
	}
	if len(d.free) == 0 || len(d.free) > maxFreeStages {
		t.Fatalf("%d staging buffers kept, want 1 to %d", len(d.free), maxFreeStages)
	}
}

func TestWriteAllVectors(t *testing.T) {
	// writeAll with a real file descriptor (writev, more buffers than one call takes) and
	// without (buffer by buffer).
	lengths := make([]int, iovMax+7)
	for i := range lengths {
		lengths[i] = 1 + i%97
	}
	parts := randomParts(3, lengths...)
	want := bytes.Join(parts, nil)
	for _, fs := range []vfs.FS{vfs.Default, vfs.NewMem()} {
		dir := t.TempDir()
		path := fs.PathJoin(dir, "f")
		if err := fs.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := fs.Create(path, vfs.WriteCategoryUnspecified)
		if err != nil {
			t.Fatal(err)
		}
		if err := writeAll(f, append([][]byte(nil), parts...)); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		g, err := fs.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(want)+1)
		n, _ := g.ReadAt(got, 0)
		_ = g.Close()
		if !bytes.Equal(got[:n], want) {
			t.Fatalf("%T: read back %d bytes, want the %d written", fs, n, len(want))
		}
	}
}
