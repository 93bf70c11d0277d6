package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"syscall"

	api "github.com/floelabs/floe/api/daemon"
	"github.com/floelabs/floe/blob"
)

// A PUT /v1/blobs body larger than Config.SpillAbove is not held in memory: it is received
// into a temporary file in Config.SpillDir, and the blob is stored from there (the client SDK
// then encodes it into a temporary file of its slivers, so the publisher's memory stays
// bounded whatever the blob's size). The bytes of the bodies being spilled at once are
// bounded by Config.MaxSpillBytes (beyond: 429); a disk that fills up ends the request with
// 507 INSUFFICIENT_STORAGE. Spilling needs a Blobs that is a FileBlobs (the SDK adapters are);
// with another Blobs every body is received into memory.

// FileBlobs is a Blobs that can also store a blob read from a file.
type FileBlobs interface {
	Blobs
	// StoreFile stores the size bytes of r, which does not change during the call.
	StoreFile(ctx context.Context, r io.ReaderAt, size int64, p StoreParams) (*api.BlobStoreResult, error)
}

// fileBlobIDer computes the blob ID of a file (the blocklist's check of a spilled store).
type fileBlobIDer interface {
	BlobIDOfFile(ctx context.Context, r io.ReaderAt, size int64) (blob.ID, error)
}

var (
	// errSpillFull: the bodies being spilled fill MaxSpillBytes → 429.
	errSpillFull = errors.New("daemon: too many request bodies being spilled to disk")
	// errDiskFull: the disk under SpillDir is full → 507.
	errDiskFull = errors.New("daemon: no space left on the disk for the request")
)

// spillChunk is how much a spilled body reads at once, and how much of the spill budget it
// reserves at a time.
const spillChunk = 1 << 20

// received is a PUT body: in memory, or spilled to a temporary file.
type received struct {
	data []byte
	file *os.File
	size int64
	// reserved is the spill budget the file holds, given back by close.
	reserved int64
	budget   *byteBudget
}

// close removes the spilled file, if any, and gives back its budget.
func (b *received) close() {
	if b == nil || b.file == nil {
		return
	}
	name := b.file.Name()
	_ = b.file.Close()
	_ = os.Remove(name)
	b.budget.give(b.reserved)
	b.file, b.reserved = nil, 0
}

// spills says whether bodies of PUT /v1/blobs may be spilled to disk.
func (s *Server) spills() bool {
	_, ok := s.cfg.Blobs.(FileBlobs)
	return ok && s.cfg.SpillAbove >= 0
}

// spillBody receives the rest of a body whose first bytes are head into a temporary file:
// at most limit bytes in all, and exactly contentLength if it is not negative.
func (s *Server) spillBody(body io.Reader, head []byte, limit, contentLength int64) (_ *received, err error) {
	f, err := os.CreateTemp(s.cfg.SpillDir, "floe-put-*")
	if err != nil {
		return nil, diskError(fmt.Errorf("daemon: a file for the request body: %w", err))
	}
	rb := &received{file: f, budget: s.spill}
	defer func() {
		if err != nil {
			rb.close()
		}
	}()
	// reserve makes room for n more bytes in the spill budget.
	reserve := func(n int64) error {
		for rb.size+n > rb.reserved {
			if !s.spill.take(spillChunk) {
				return fmt.Errorf("%w: %d bytes held (MaxSpillBytes)", errSpillFull, s.spill.inUse())
			}
			rb.reserved += spillChunk
		}
		return nil
	}
	write := func(p []byte) error {
		if err := reserve(int64(len(p))); err != nil {
			return err
		}
		if _, err := f.Write(p); err != nil {
			return diskError(fmt.Errorf("daemon: spilling the request body: %w", err))
		}
		rb.size += int64(len(p))
		return nil
	}
	if err := write(head); err != nil {
		return nil, err
	}
	buf := make([]byte, spillChunk)
	for {
		n, rerr := body.Read(buf)
		if rb.size+int64(n) > limit {
			return nil, &http.MaxBytesError{Limit: limit}
		}
		if err := write(buf[:n]); err != nil {
			return nil, err
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return nil, bodyError(rerr)
		}
	}
	if contentLength >= 0 && rb.size != contentLength {
		return nil, fmt.Errorf("%w: %d of %d bytes", errShortBody, rb.size, contentLength)
	}
	return rb, nil
}

// diskError marks an error of a full disk with errDiskFull.
func diskError(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("%w: %w", errDiskFull, err)
	}
	return err
}

// storeReceived stores a received body, from memory or from its file.
func (s *Server) storeReceived(ctx context.Context, b *received, p StoreParams) (*api.BlobStoreResult, error) {
	if b.file == nil {
		return s.cfg.Blobs.Store(ctx, b.data, p)
	}
	res, err := s.cfg.Blobs.(FileBlobs).StoreFile(ctx, b.file, b.size, p)
	return res, diskError(err)
}

// checkBlockedReceived refuses a body whose blob ID is on the blocklist.
func (s *Server) checkBlockedReceived(ctx context.Context, b *received) error {
	if b.file == nil {
		return s.checkBlockedData(ctx, b.data)
	}
	if s.cfg.Blocklist.Len() == 0 {
		return nil
	}
	ider, ok := s.cfg.Blobs.(fileBlobIDer)
	if !ok {
		return fmt.Errorf("daemon: the blob store cannot compute blob IDs of files for the blocklist")
	}
	id, err := ider.BlobIDOfFile(ctx, b.file, b.size)
	if err != nil {
		return err
	}
	return s.checkBlocked(id)
}
