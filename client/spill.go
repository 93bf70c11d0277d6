package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/redstuff"
)

// spillInFlight bounds the sliver bytes a spilled read holds in memory while it fetches.
const spillInFlight = 64 << 20

// spills says whether a blob of size bytes goes through temporary files (Config.SpillAbove).
func (c *Client) spills(size uint64) bool {
	limit := c.cfg.SpillAbove
	if limit == 0 {
		limit = DefaultSpillAbove
	}
	return limit >= 0 && size > uint64(limit)
}

// tempFile creates a temporary file in Config.TempDir; close it with removeTemp.
func (c *Client) tempFile(pattern string) (*os.File, error) {
	f, err := os.CreateTemp(c.cfg.TempDir, pattern)
	if err != nil {
		return nil, fmt.Errorf("client: temporary file: %w", err)
	}
	return f, nil
}

func removeTemp(f *os.File) {
	_ = f.Close()
	_ = os.Remove(f.Name())
}

// readSpilled is the degraded read of a blob larger than SpillAbove, in bounded memory: it
// fetches any K_p verified primary slivers into a temporary file (slot i holds primary sliver
// i, so slots 0..K_p are the blob's rows in place), rebuilds the missing rows in their slots
// strip by strip (redstuff.DecodeRowsAt), runs the default consistency check over the
// rebuilt rows (none for ConsistencySkip), and only then writes bytes [from, to) of the blob
// from the file to w. It holds at most about 64 MiB of slivers in flight and the decoder's
// strips, whatever the blob's size.
func (c *Client) readSpilled(ctx context.Context, v *committeeView, md *blob.MetadataWithID, from, to uint64, w io.Writer, check ConsistencyCheck) (int64, error) {
	p := v.params
	s, err := md.Metadata.SymbolSize(p)
	if err != nil {
		return 0, fmt.Errorf("client: %w", err)
	}
	rowLen := int64(p.PrimarySliverLen(s))
	f, err := c.tempFile("floe-read-*")
	if err != nil {
		return 0, err
	}
	defer removeTemp(f)
	keep := func(sl redstuff.Sliver) error {
		if _, err := f.WriteAt(sl.Data, int64(sl.Index)*rowLen); err != nil {
			return fmt.Errorf("client: spilling sliver %d: %w", sl.Index, err)
		}
		return nil
	}
	limit := int(max(2, min(int64(c.comm.MaxConcurrentSliverReads), spillInFlight/rowLen)))
	got, err := c.fetchPrimary(ctx, v, md, nil, p.PrimarySource, keep, limit)
	if err != nil {
		return 0, err
	}
	slot := func(i int) *io.SectionReader { return io.NewSectionReader(f, int64(i)*rowLen, rowLen) }
	have := make(map[int]io.ReaderAt, len(got))
	for _, sl := range got {
		have[sl.Index] = slot(sl.Index)
	}
	dst := map[int]io.WriterAt{}
	rebuilt := map[int]io.ReaderAt{}
	for r := 0; r < p.PrimarySource; r++ {
		if _, ok := have[r]; !ok {
			dst[r] = io.NewOffsetWriter(f, int64(r)*rowLen)
			rebuilt[r] = slot(r)
		}
	}
	c.log.Debug("decoding through a temporary file", "blob", md.ID, "slivers", len(have), "rebuilt_rows", len(dst), "file", f.Name())
	if err := v.enc.DecodeRowsAt(s, have, dst); err != nil {
		return 0, fmt.Errorf("client: decoding %s: %w", md.ID, err)
	}
	if check != ConsistencySkip {
		err = v.enc.CheckRowsAt(s, rebuilt, md.Metadata.Hashes)
	}
	if errors.Is(err, redstuff.ErrInconsistent) {
		return 0, fmt.Errorf("%w: %s is inconsistently encoded: %w", ErrBlobInvalid, md.ID, err)
	}
	if err != nil {
		return 0, fmt.Errorf("client: checking %s: %w", md.ID, err)
	}
	k, err := io.Copy(w, io.NewSectionReader(f, int64(from), int64(to-from)))
	if err != nil {
		return k, fmt.Errorf("client: writing the blob: %w", err)
	}
	return k, nil
}

// checkStrictAt re-encodes the blob read from r and checks that it gives the blob's ID.
func (c *Client) checkStrictAt(v *committeeView, md *blob.MetadataWithID, r *io.SectionReader) error {
	cm, err := v.enc.CommitReaderAt(r, r.Size())
	if err != nil {
		return fmt.Errorf("client: re-encoding %s: %w", md.ID, err)
	}
	if got := blob.NewMetadata(cm).ID; got != md.ID {
		return fmt.Errorf("%w: %s is inconsistently encoded: its data re-encodes to %s", ErrBlobInvalid, md.ID, got)
	}
	return nil
}

// readStrictSpilled is the strict read of a blob larger than SpillAbove: the blob is read
// into a temporary file, re-encoded from it in bounded memory (CommitReaderAt) and its ID
// compared before bytes [offset, offset+length) are written to w.
func (c *Client) readStrictSpilled(ctx context.Context, v *committeeView, md *blob.MetadataWithID, offset, length uint64, w io.Writer) (int64, error) {
	f, err := c.tempFile("floe-strict-*")
	if err != nil {
		return 0, err
	}
	defer removeTemp(f)
	size := md.Metadata.UnencodedLength
	if _, err := c.stream(ctx, v, md, 0, size, f, ConsistencyDefault); err != nil {
		return 0, err
	}
	if err := c.checkStrictAt(v, md, io.NewSectionReader(f, 0, int64(size))); err != nil {
		return 0, err
	}
	k, err := io.Copy(w, io.NewSectionReader(f, int64(offset), int64(length)))
	if err != nil {
		return k, fmt.Errorf("client: writing the blob: %w", err)
	}
	return k, nil
}
