package redstuff

import (
	"errors"
	"fmt"
	"io"
)

// blobSource is the message an expansion reads: a blob in memory, or one read from an
// io.ReaderAt. Past its size the message matrix is zero.
type blobSource struct {
	data []byte      // the blob, when in memory
	r    io.ReaderAt // else its reader
	size int64
}

func memorySource(data []byte) *blobSource {
	return &blobSource{data: data, size: int64(len(data))}
}

// inPlace returns bytes [off, off+l) of a blob in memory that holds them all, else nil.
func (b *blobSource) inPlace(off, l int) []byte {
	if b.r != nil || off+l > len(b.data) {
		return nil
	}
	return b.data[off : off+l : off+l]
}

// read copies bytes [off, off+len(dst)) of the message to dst, zero past the blob's end.
func (b *blobSource) read(dst []byte, off int64) error {
	n := 0
	if off < b.size {
		want := int(min(int64(len(dst)), b.size-off))
		if b.r == nil {
			n = copy(dst[:want], b.data[off:])
		} else {
			got, err := b.r.ReadAt(dst[:want], off)
			if got < want {
				if err == nil || errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				return fmt.Errorf("%w: %d bytes at offset %d of %d: %w", ErrBlobRead, want, off, b.size, err)
			}
			n = want
		}
	}
	clear(dst[n:])
	return nil
}
