package s3gw

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"time"

	"github.com/floelabs/floe/client"
)

// storeAttempts is how many times a store is tried: concurrent stores of one wallet may pick
// the same storage resource or registration, and all but one then fail and are retried.
const storeAttempts = 4

// storeBlob stores ch as a new deletable blob object of w for epochs epochs: from memory
// (client.StoreBytes) or, if it was spilled, from its file (client.StoreReaderAt, which
// encodes it into a temporary file of its slivers in bounded memory), as the daemon's
// publisher stores a PUT body.
func (g *Gateway) storeBlob(ctx context.Context, w *wallet, ch *chunk, epochs uint32) (*client.StoreResult, error) {
	var err error
	opts := client.StoreOptions{Epochs: epochs, Force: true}
	for attempt := 1; attempt <= storeAttempts; attempt++ {
		var res *client.StoreResult
		if ch.file != nil {
			res, err = w.c.StoreReaderAt(ctx, ch.file, ch.size, opts)
		} else {
			res, err = w.c.StoreBytes(ctx, ch.data, opts)
		}
		if err == nil {
			return res, nil
		}
		if ctx.Err() != nil || errors.Is(err, client.ErrBlobTooLarge) {
			break
		}
		g.log.Warn("store failed; retrying", "attempt", attempt, "size", ch.size, "spilled", ch.file != nil, "err", err)
		sleep(ctx, time.Duration(attempt)*200*time.Millisecond)
	}
	return nil, err
}

// label writes r's attributes on its blob object and fills in what the object says.
func (g *Gateway) label(ctx context.Context, w *wallet, res *client.StoreResult, r *record) error {
	attrs, err := encodeAttrs(r)
	if err != nil {
		return err
	}
	if err := w.c.SetAttributes(ctx, res.ObjectID, attrs, nil); err != nil {
		return err
	}
	r.ObjectID, r.BlobID, r.End = res.ObjectID, res.BlobID.String(), res.EndEpoch
	return nil
}

// storeLabelled stores ch and labels it with r; ready, if set, completes r between the
// two (an error from it fails the write). The record's write time is the control plane's time once the blob is certified, so
// that of two writes of a key the later one has the later time whichever gateways made
// them (gateways' clocks may differ; the control plane's never goes back). On failure it
// deletes what it stored.
func (g *Gateway) storeLabelled(ctx context.Context, w *wallet, ch *chunk, epochs uint32, r *record, ready func() error) error {
	res, err := g.storeBlob(ctx, w, ch, epochs)
	if ready != nil {
		if rerr := ready(); rerr != nil && err == nil {
			g.deleteObjects(context.WithoutCancel(ctx), w, res.ObjectID)
			return rerr
		}
	}
	if err != nil {
		return err
	}
	r.MTimeMs = g.chainTime(ctx)
	if err := g.label(ctx, w, res, r); err != nil {
		g.deleteObjects(ctx, w, res.ObjectID)
		return err
	}
	return nil
}

// chainTime returns the control plane's latest block time (the local clock if it cannot be
// had).
func (g *Gateway) chainTime(ctx context.Context) int64 {
	h, err := g.reader.Head(ctx)
	if err != nil || h.TimeMs == 0 {
		g.log.Warn("the control plane's time is unavailable; using the local clock", "err", err)
		return time.Now().UnixMilli()
	}
	return h.TimeMs
}

// chunk is a part of a request body that is stored as one blob: in memory, or, when it is
// larger than the client's SpillAbove, in a temporary file.
type chunk struct {
	data []byte
	file *os.File
	size int64
}

// memChunk is a chunk of data in memory.
func memChunk(data []byte) *chunk { return &chunk{data: data, size: int64(len(data))} }

// remove removes the chunk's file, if any.
func (ch *chunk) remove() {
	if ch != nil && ch.file != nil {
		_ = ch.file.Close()
		_ = os.Remove(ch.file.Name())
		ch.file = nil
	}
}

// spillCopy is the buffer a spilled chunk is received through.
const spillCopy = 1 << 20

// chunkReader cuts a body into chunks of at most size bytes, holding one at a time under
// the gateway's bound on body bytes held (MaxBuffered), in memory or, above spillAt bytes,
// in a temporary file, and computes the body's MD5 (the ETag) on another goroutine while
// each chunk is stored, unless the body computes it itself (bodySum).
type chunkReader struct {
	g       *Gateway
	r       io.Reader
	left    int64 // bytes still expected (-1: unknown)
	size    int64
	spillAt int64 // a chunk larger than this goes to a temporary file (negative: never)
	md5     hash.Hash
	bodySum func() []byte // the MD5 of the bytes read from r, if r computes it
	hashing chan struct{} // closed when the last chunk given to hash is hashed
	hashErr error         // a spilled chunk could not be read back to be hashed
	total   int64
	held    int64
	cur     *chunk
	done    bool
}

// bodyMD5 is a request body that computes the MD5 of the bytes read from it: the S3
// library's PutObject body (and an UploadPart body with Content-MD5) does, as it needs it
// for its own ETag and digest check, so the gateway need not compute it a second time.
type bodyMD5 interface {
	io.Reader
	Sum(into []byte) []byte
}

// hash feeds the current chunk to the body's MD5, in order, without waiting.
func (c *chunkReader) hash() {
	ch := c.cur
	if c.bodySum != nil || ch == nil {
		return
	}
	prev, done := c.hashing, make(chan struct{})
	c.hashing = done
	go func() {
		defer close(done)
		if prev != nil {
			<-prev
		}
		if ch.file == nil {
			c.md5.Write(ch.data)
			return
		}
		// The chunk's file stays open until this ends (see release).
		if _, err := io.Copy(c.md5, io.NewSectionReader(ch.file, 0, ch.size)); err != nil {
			c.hashErr = fmt.Errorf("s3gw: hashing a spilled chunk: %w", err)
		}
	}()
}

// sum waits for the hashing and returns the MD5 of the chunks hashed, in hex.
func (c *chunkReader) sum() (string, error) {
	if c.bodySum != nil {
		return hex.EncodeToString(c.bodySum()), nil
	}
	if c.hashing != nil {
		<-c.hashing
	}
	if c.hashErr != nil {
		return "", c.hashErr
	}
	return hex.EncodeToString(c.md5.Sum(nil)), nil
}

func (g *Gateway) newChunkReader(r io.Reader, size int64) *chunkReader {
	c := &chunkReader{g: g, r: r, left: size, size: g.chunkSize, spillAt: g.spillAt, md5: md5.New()}
	if b, ok := r.(bodyMD5); ok {
		c.bodySum = func() []byte { return b.Sum(nil) }
	}
	return c
}

// next returns the next chunk (nil at the end: the first call returns an empty chunk for an
// empty body) and starts hashing it. The chunk is released (its memory, its file) by the
// following call or by release.
func (c *chunkReader) next(ctx context.Context) (*chunk, error) {
	c.release()
	if c.done {
		return nil, nil
	}
	want := c.size
	if c.left >= 0 {
		want = min(c.left, c.size)
	}
	spill := c.spillAt >= 0 && want > c.spillAt
	// One byte more tells an unknown-length body's last chunk from a full one.
	hold := want + 1
	if err := c.g.mem.Acquire(ctx, hold); err != nil {
		return nil, err
	}
	c.held = hold
	// In memory: the whole chunk; spilled: an unknown-length body's first spillAt+1 bytes
	// (fewer end the body: the chunk stays in memory), a known one's nothing.
	head := want
	if spill {
		head = 0
		if c.left < 0 {
			head = c.spillAt + 1
		}
	}
	buf := make([]byte, head)
	n, err := io.ReadFull(c.r, buf)
	if err == nil && spill {
		c.cur, err = c.spill(buf, want)
	} else {
		c.cur = memChunk(buf[:n])
	}
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		if c.left >= 0 {
			return nil, fmt.Errorf("%w: %d bytes missing", errShortBody, c.left-c.cur.size)
		}
		c.done = true
	case err != nil:
		return nil, err
	}
	n64 := c.cur.size
	if c.left >= 0 {
		c.left -= n64
		if c.done = c.left == 0; c.done {
			if err := c.end(); err != nil {
				return nil, err
			}
		}
	} else if !c.done {
		// A full chunk of an unknown-length body: peek whether more follows.
		var one [1]byte
		m, err := io.ReadFull(c.r, one[:])
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		if m == 0 {
			c.done = true
		} else {
			c.r = io.MultiReader(bytesReader(one[:]), c.r)
		}
	}
	c.total += n64
	c.hash()
	return c.cur, nil
}

// end reads past the last byte of a body of known length, which must be its end. The readers
// a body comes through check it there: the S3 library's against Content-MD5 (with the MD5 it
// computes for the ETag anyway, which bodySum reuses: no second pass over the body), the
// gateway's against x-amz-checksum-*, the signed SHA-256 and the aws-chunked trailer. A
// reader that stops at the length never gets there, and those checks would not run. This
// runs before the body's last chunk is stored, so nothing of a refused body becomes visible.
func (c *chunkReader) end() error {
	var one [1]byte
	n, err := io.ReadFull(c.r, one[:])
	switch {
	case n > 0:
		return errLongBody
	case errors.Is(err, io.EOF):
		return nil
	}
	return err
}

// spill receives a chunk of at most want bytes, whose first bytes are head, into a temporary
// file. An error wrapping io.ErrUnexpectedEOF comes with the chunk (its bytes so far) if the
// body ended first.
func (c *chunkReader) spill(head []byte, want int64) (*chunk, error) {
	f, err := os.CreateTemp(c.g.cfg.Client.TempDir, "floe-s3-*")
	if err != nil {
		return nil, fmt.Errorf("s3gw: a file for the request body: %w", err)
	}
	ch := &chunk{file: f}
	if _, err := f.Write(head); err != nil {
		ch.remove()
		return nil, fmt.Errorf("s3gw: spilling the request body: %w", err)
	}
	ch.size = int64(len(head))
	k, err := io.CopyBuffer(onlyWriter{f}, io.LimitReader(c.r, want-ch.size), make([]byte, spillCopy))
	ch.size += k
	if err != nil {
		ch.remove()
		return nil, fmt.Errorf("s3gw: spilling the request body: %w", err)
	}
	if ch.size < want {
		return ch, io.ErrUnexpectedEOF
	}
	return ch, nil
}

// onlyWriter hides a writer's ReadFrom, so that io.CopyBuffer reads through the buffer it is
// given (an os.File's ReadFrom would copy through a small one).
type onlyWriter struct{ w io.Writer }

func (o onlyWriter) Write(p []byte) (int, error) { return o.w.Write(p) }

// release waits until the current chunk is hashed, then removes its file and gives back its
// bytes of the gateway's bound.
func (c *chunkReader) release() {
	if c.hashing != nil {
		<-c.hashing
	}
	c.cur.remove()
	c.cur = nil
	if c.held > 0 {
		c.g.mem.Release(c.held)
		c.held = 0
	}
}

func bytesReader(b []byte) io.Reader {
	r := &sliceReader{b: append([]byte(nil), b...)}
	return r
}

type sliceReader struct{ b []byte }

func (s *sliceReader) Read(p []byte) (int, error) {
	if len(s.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.b)
	s.b = s.b[n:]
	return n, nil
}

// writeObject stores body (size bytes, -1 if unknown) as bucket/key of w with metadata meta
// for epochs epochs: one blob if it fits a chunk, else chunk blobs and a manifest. It
// records the object and deletes the objects it replaces. The returned record's ETag is the
// body's MD5.
func (g *Gateway) writeObject(ctx context.Context, w *wallet, bucket, key string, meta map[string]string, body io.Reader, size int64, epochs uint32) (*record, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	r := &record{Kind: kindObject, Bucket: bucket, Key: key, Layout: layoutBlob, Meta: meta}
	cr := g.newChunkReader(body, size)
	defer cr.release()
	first, err := cr.next(ctx)
	if err != nil {
		return nil, err
	}
	if cr.done {
		r.Size = cr.total
		setETag := func() (err error) {
			r.ETag, err = cr.sum()
			return err
		}
		if err := g.storeLabelled(ctx, w, first, epochs, r, setETag); err != nil {
			return nil, err
		}
	} else {
		of := newID()
		var chunks []manifestChunk
		var stored []client.ObjectID
		fail := func(err error) (*record, error) {
			g.deleteObjects(context.WithoutCancel(ctx), w, stored...)
			return nil, err
		}
		for data := first; data != nil; {
			c := &record{Kind: kindChunk, Bucket: bucket, Key: key, Of: of, Seq: len(chunks), Size: data.size}
			if err := g.storeLabelled(ctx, w, data, epochs, c, nil); err != nil {
				return fail(err)
			}
			stored = append(stored, c.ObjectID)
			chunks = append(chunks, manifestChunk{ObjectID: c.ObjectID, BlobID: c.BlobID, Size: c.Size})
			if data, err = cr.next(ctx); err != nil {
				return fail(err)
			}
		}
		cr.release()
		r.Layout, r.Size = layoutManifest, cr.total
		if r.ETag, err = cr.sum(); err != nil {
			return fail(err)
		}
		if err := g.writeManifest(ctx, w, r, &manifest{Version: 1, Size: r.Size, Chunks: chunks}, epochs); err != nil {
			return fail(err)
		}
	}
	if err := g.commit(ctx, w, r); err != nil {
		return nil, err
	}
	return r, nil
}

// writeManifest stores m as the blob of the object record r.
func (g *Gateway) writeManifest(ctx context.Context, w *wallet, r *record, m *manifest, epochs uint32) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if err := g.storeLabelled(ctx, w, memChunk(b), epochs, r, nil); err != nil {
		return err
	}
	g.manifests.put(r.ObjectID, m)
	return nil
}

// commit records a new object and deletes the ones it replaces.
func (g *Gateway) commit(ctx context.Context, w *wallet, r *record) error {
	if err := g.ix.put(w.addr, r); err != nil {
		return err
	}
	old, err := g.ix.objects(w.addr, r.Bucket, r.Key)
	if err != nil {
		return err
	}
	for _, o := range old {
		if o.ObjectID != r.ObjectID && r.newer(o) {
			if err := g.deleteRecord(context.WithoutCancel(ctx), w, o); err != nil {
				g.log.Warn("deleting a replaced object", "bucket", o.Bucket, "key", o.Key, "object", o.ObjectID, "err", err)
			}
		}
	}
	return nil
}

// deleteRecord deletes an object's blob objects (its manifest's chunks too) and forgets it.
func (g *Gateway) deleteRecord(ctx context.Context, w *wallet, r *record) error {
	ids := []client.ObjectID{r.ObjectID}
	if r.Layout == layoutManifest {
		m, err := g.manifest(ctx, r)
		if err != nil {
			return err
		}
		for _, c := range m.Chunks {
			ids = append(ids, c.ObjectID)
		}
	}
	return g.deleteObjects(ctx, w, ids...)
}

// deleteObjects deletes blob objects of w (those already gone count as deleted) and forgets
// them; it returns the first other error.
func (g *Gateway) deleteObjects(ctx context.Context, w *wallet, ids ...client.ObjectID) error {
	var first error
	for _, id := range ids {
		err := w.c.Delete(ctx, id)
		if err == nil || errors.Is(err, client.ErrBlobNotFound) {
			if err := g.ix.remove(id); err != nil && first == nil {
				first = err
			}
			continue
		}
		g.log.Warn("deleting a blob object", "object", id, "err", err)
		if first == nil {
			first = err
		}
	}
	return first
}

// renewBuckets extends the bucket markers that will expire within half the longest
// lifetime storage can be bought for, so that buckets outlive their objects.
func (g *Gateway) renewBuckets(ctx context.Context) {
	maxAhead, err := g.reader.MaxEpochsAhead(ctx)
	if err != nil {
		g.log.Warn("renewing buckets", "err", err)
		return
	}
	epoch := g.fol.epoch.Load()
	for _, w := range g.wallets {
		bs, err := g.ix.buckets(w.addr)
		if err != nil {
			g.log.Warn("renewing buckets", "err", err)
			return
		}
		for _, b := range bs {
			if b.End > epoch+maxAhead/2 {
				continue
			}
			by := epoch + maxAhead - b.End
			if by == 0 {
				continue
			}
			if _, err := w.c.Extend(ctx, b.ObjectID, by); err != nil {
				g.log.Warn("renewing a bucket", "bucket", b.Bucket, "err", err)
			}
		}
	}
}
