package rs16

import "fmt"

// EncodeWork is a reusable area that encodes in place, without copying shards in and out:
// the caller writes the originals into Original(i), calls Encode, and reads Recovery(r). It is
// meant for shards small enough to stay in cache (a few KiB); it is not safe for concurrent use.
type EncodeWork struct {
	c    *Code
	area workArea
	wc   int
}

// NewEncodeWork returns an encoding area for shards of size bytes (a positive multiple of 64).
func (c *Code) NewEncodeWork(size int) (*EncodeWork, error) {
	if size <= 0 || size%64 != 0 {
		return nil, fmt.Errorf("%w: %d", ErrShardSize, size)
	}
	return c.NewEncodeWorkIn(size, make([]byte, c.EncodeWorkBytes(size)))
}

// EncodeWorkBytes returns the bytes of an encoding area for shards of size bytes.
func (c *Code) EncodeWorkBytes(size int) int { return c.encodeWorkCount() * size }

// NewEncodeWorkIn is NewEncodeWork in buf, which must hold EncodeWorkBytes(size) bytes of
// zeros (fresh memory: the area relies on slots it never writes being zero).
func (c *Code) NewEncodeWorkIn(size int, buf []byte) (*EncodeWork, error) {
	if size <= 0 || size%64 != 0 {
		return nil, fmt.Errorf("%w: %d", ErrShardSize, size)
	}
	wc := c.encodeWorkCount()
	if len(buf) < wc*size {
		return nil, fmt.Errorf("%w: an area of %d bytes for %d shards of %d", ErrShardSize, len(buf), wc, size)
	}
	return &EncodeWork{c: c, area: workArea{buf: buf[: wc*size : wc*size], size: size}, wc: wc}, nil
}

// Size returns the shard size.
func (w *EncodeWork) Size() int { return w.area.size }

// Original returns the slot of original shard i (0 <= i < k) to be filled before Encode.
func (w *EncodeWork) Original(i int) []byte { return w.area.at(i) }

// Originals returns the slots of original shards 0..count-1 (count <= k) as one slice.
func (w *EncodeWork) Originals(count int) []byte { return w.area.span(0, min(count, w.c.k)) }

// Encode computes the recovery shards from the originals in place. The originals' slots are
// overwritten and must be filled again before the next Encode.
func (w *EncodeWork) Encode() {
	if w.c.high {
		w.c.encodeHigh(w.area)
		return
	}
	w.c.encodeLow(w.area)
}

// EncodeFunc is Encode for callers that write the originals and read the recovery shards a
// few at a time while they are in the CPU's caches: it calls fill(lo, hi) to write originals
// lo..hi-1 into their slots, for consecutive groups of originals in order, each just before
// the group's first transform layers, and done(lo, hi) once recovery shards lo..hi-1 are
// final (they stay so until the next Encode), for consecutive groups in order, each just
// after the group's last layers. It computes the same shards as Encode.
func (w *EncodeWork) EncodeFunc(fill, done func(lo, hi int)) {
	if w.c.high {
		w.c.encodeHighGrouped(w.area, fill, done)
		return
	}
	w.c.encodeLowGrouped(w.area, fill, done)
}

// Recovery returns recovery shard r (0 <= r < m) after Encode.
func (w *EncodeWork) Recovery(r int) []byte { return w.area.at(r) }

// Recoveries returns recovery shards 0..count-1 (count <= m) as one slice after Encode.
func (w *EncodeWork) Recoveries(count int) []byte { return w.area.span(0, min(count, w.c.m)) }
