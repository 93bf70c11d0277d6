package storagenode

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Batched sliver upload (Floe extension; Walrus has only the per-sliver routes).
//
//	PUT /v1/blobs/{blob_id}/sliverBatch[?pending=true]
//	Content-Type: application/vnd.floe.sliver-batch
//
// carries, in one streamed request, the metadata of a blob (optional) and any number of the
// slivers the node holds for it. The body is
//
//	header  = "FLSB" (4 bytes) || version u8 (= 1)
//	frame   = kind u8 || pair u16 LE || length u32 LE || payload[length]
//	body    = header || frame* || end frame
//
// with frame kinds
//
//	1 metadata   payload: BCS BlobMetadata (as the metadata PUT body); pair must be 0; at most
//	             one, and only as the first frame
//	2 primary    payload: BCS SliverData of the primary sliver of pair `pair`
//	3 secondary  payload: BCS SliverData of the secondary sliver of pair `pair`
//	0 end        pair 0, length 4, payload: u32 LE count of the frames before it
//
// Nothing may follow the end frame. A body without its end frame, or whose count differs, is
// truncated, and the node reports TRUNCATED_BODY. Each sliver payload is checked exactly as a
// sliver PUT (pair, shard ownership, verification against the metadata); the node verifies
// and stores frames as they arrive, so a failure part-way leaves the valid slivers before it
// stored, and the error's metadata names the failing frame ("frame") and the count stored
// ("stored"). Success is 200 with a JSON BatchResult. A node offers the route when its health
// reports sliverBatch=true; clients fall back to the per-sliver routes otherwise (a node
// without it answers 404 or 405).

// Batch frame kinds.
const (
	FrameEnd       byte = 0
	FrameMetadata  byte = 1
	FramePrimary   byte = 2
	FrameSecondary byte = 3
)

// BatchMagic and BatchVersion open a batch body.
const (
	BatchMagic   = "FLSB"
	BatchVersion = 1
	// BatchHeaderLen and FrameHeaderLen are the sizes of the body and frame headers.
	BatchHeaderLen = 5
	FrameHeaderLen = 7
)

// Errors of the batch decoder.
var (
	ErrBatchMalformed = errors.New("storagenode: malformed sliver batch")
	ErrBatchTruncated = errors.New("storagenode: truncated sliver batch")
	ErrFrameTooLarge  = errors.New("storagenode: sliver batch frame too large")
)

// Frame is one decoded frame of a batch.
type Frame struct {
	Kind    byte
	Pair    uint16
	Payload []byte
}

// BatchWriter encodes a batch body onto an io.Writer.
type BatchWriter struct {
	w      io.Writer
	frames uint32
	hdr    [FrameHeaderLen]byte
	err    error
}

// NewBatchWriter writes the batch header to w and returns a writer for its frames.
func NewBatchWriter(w io.Writer) (*BatchWriter, error) {
	if _, err := io.WriteString(w, BatchMagic+string(rune(BatchVersion))); err != nil {
		return nil, err
	}
	return &BatchWriter{w: w}, nil
}

// WriteMetadata writes the metadata frame; call it first, at most once.
func (bw *BatchWriter) WriteMetadata(bcsMetadata []byte) error {
	if bw.frames != 0 {
		return fmt.Errorf("%w: metadata must be the first frame", ErrBatchMalformed)
	}
	return bw.frame(FrameMetadata, 0, bcsMetadata)
}

// WriteSliver writes one sliver frame; secondary selects the axis, sliverData is the BCS
// SliverData.
func (bw *BatchWriter) WriteSliver(pair uint16, secondary bool, sliverData []byte) error {
	kind := FramePrimary
	if secondary {
		kind = FrameSecondary
	}
	return bw.frame(kind, pair, sliverData)
}

// WriteSliverParts writes one sliver frame whose payload is the concatenation of parts (a
// SliverData given as the bytes before its data, the data and the bytes after it), so that a
// writer can pass large data on without copying it first.
func (bw *BatchWriter) WriteSliverParts(pair uint16, secondary bool, parts ...[]byte) error {
	kind := FramePrimary
	if secondary {
		kind = FrameSecondary
	}
	return bw.frame(kind, pair, parts...)
}

// WriteSliverHeader writes the header of a sliver frame of n payload bytes, which the
// caller then writes to the underlying writer itself (before any other call): a writer can
// pass a payload on from elsewhere, a file say, without holding it.
func (bw *BatchWriter) WriteSliverHeader(pair uint16, secondary bool, n int64) error {
	if bw.err != nil {
		return bw.err
	}
	if n < 0 || n > 0xffffffff {
		return ErrFrameTooLarge
	}
	kind := FramePrimary
	if secondary {
		kind = FrameSecondary
	}
	bw.hdr[0] = kind
	binary.LittleEndian.PutUint16(bw.hdr[1:], pair)
	binary.LittleEndian.PutUint32(bw.hdr[3:], uint32(n))
	if _, err := bw.w.Write(bw.hdr[:]); err != nil {
		bw.err = err
		return err
	}
	bw.frames++
	return nil
}

// Close writes the end frame. It does not close the underlying writer.
func (bw *BatchWriter) Close() error {
	var p [4]byte
	binary.LittleEndian.PutUint32(p[:], bw.frames)
	return bw.frame(FrameEnd, 0, p[:])
}

func (bw *BatchWriter) frame(kind byte, pair uint16, payload ...[]byte) error {
	if bw.err != nil {
		return bw.err
	}
	var n uint64
	for _, p := range payload {
		n += uint64(len(p))
	}
	if n > 0xffffffff {
		return ErrFrameTooLarge
	}
	bw.hdr[0] = kind
	binary.LittleEndian.PutUint16(bw.hdr[1:], pair)
	binary.LittleEndian.PutUint32(bw.hdr[3:], uint32(n))
	if _, err := bw.w.Write(bw.hdr[:]); err != nil {
		bw.err = err
		return err
	}
	for _, p := range payload {
		if _, err := bw.w.Write(p); err != nil {
			bw.err = err
			return err
		}
	}
	bw.frames++
	return nil
}

// BatchReader decodes a batch body frame by frame.
type BatchReader struct {
	r        io.Reader
	maxFrame int
	frames   uint32
	started  bool
	done     bool
	alloc    func(n int) []byte
	free     func([]byte)
}

// SetAlloc makes Next take each sliver payload's buffer from alloc (which must return n bytes) instead
// of allocating it, so that a server can recycle them; a buffer Next took but does not return
// (its frame could not be read whole) goes back to free, if not nil.
func (br *BatchReader) SetAlloc(alloc func(n int) []byte, free func([]byte)) {
	br.alloc, br.free = alloc, free
}

// NewBatchReader returns a reader of the batch body r that refuses frames whose payload is
// longer than maxFrame bytes.
func NewBatchReader(r io.Reader, maxFrame int) *BatchReader {
	return &BatchReader{r: r, maxFrame: maxFrame}
}

// Next returns the next metadata or sliver frame, with a freshly allocated payload (or one from
// the SetAlloc function). After the
// end frame it checks that the body ends there and returns io.EOF. Errors wrap
// ErrBatchMalformed, ErrBatchTruncated, ErrFrameTooLarge or the reader's error.
func (br *BatchReader) Next() (Frame, error) {
	if br.done {
		return Frame{}, io.EOF
	}
	if !br.started {
		var h [BatchHeaderLen]byte
		if err := br.readFull(h[:]); err != nil {
			return Frame{}, err
		}
		if string(h[:4]) != BatchMagic || h[4] != BatchVersion {
			return Frame{}, fmt.Errorf("%w: bad header %x", ErrBatchMalformed, h)
		}
		br.started = true
	}
	var h [FrameHeaderLen]byte
	if err := br.readFull(h[:]); err != nil {
		return Frame{}, err
	}
	f := Frame{Kind: h[0], Pair: binary.LittleEndian.Uint16(h[1:])}
	n := binary.LittleEndian.Uint32(h[3:])
	switch f.Kind {
	case FrameEnd:
		if f.Pair != 0 || n != 4 {
			return Frame{}, fmt.Errorf("%w: bad end frame", ErrBatchMalformed)
		}
	case FrameMetadata:
		if f.Pair != 0 || br.frames != 0 {
			return Frame{}, fmt.Errorf("%w: metadata frame must come first, with pair 0", ErrBatchMalformed)
		}
	case FramePrimary, FrameSecondary:
	default:
		return Frame{}, fmt.Errorf("%w: unknown frame kind %d", ErrBatchMalformed, f.Kind)
	}
	if uint64(n) > uint64(br.maxFrame) {
		return Frame{}, fmt.Errorf("%w: frame %d has %d bytes, limit %d", ErrFrameTooLarge, br.frames, n, br.maxFrame)
	}
	// Sliver payloads only: a metadata frame is decoded and dropped, the end frame checked.
	pooled := br.alloc != nil && f.Kind != FrameEnd && f.Kind != FrameMetadata
	if pooled {
		f.Payload = br.alloc(int(n))[:n]
	} else {
		f.Payload = make([]byte, n)
	}
	if err := br.readFull(f.Payload); err != nil {
		if pooled && br.free != nil {
			br.free(f.Payload)
		}
		return Frame{}, err
	}
	if f.Kind == FrameEnd {
		if got := binary.LittleEndian.Uint32(f.Payload); got != br.frames {
			return Frame{}, fmt.Errorf("%w: end frame counts %d frames, body had %d", ErrBatchTruncated, got, br.frames)
		}
		var one [1]byte
		switch _, err := io.ReadFull(br.r, one[:]); {
		case err == io.EOF:
		case err != nil:
			return Frame{}, err
		default:
			return Frame{}, fmt.Errorf("%w: bytes after the end frame", ErrBatchMalformed)
		}
		br.done = true
		return Frame{}, io.EOF
	}
	br.frames++
	return f, nil
}

// Frames returns how many metadata and sliver frames were read.
func (br *BatchReader) Frames() int { return int(br.frames) }

func (br *BatchReader) readFull(b []byte) error {
	_, err := io.ReadFull(br.r, b)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("%w: body ends inside frame %d", ErrBatchTruncated, br.frames)
	}
	return err
}
