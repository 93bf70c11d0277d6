package s3gw

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/floelabs/floe/client"
)

// manifest returns the manifest of a manifest object.
func (g *Gateway) manifest(ctx context.Context, r *record) (*manifest, error) {
	if m := g.manifests.get(r.ObjectID); m != nil {
		return m, nil
	}
	id, err := parseBlobID(r.BlobID)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBadRecord, err)
	}
	b, err := g.reader.ReadBytes(ctx, id)
	if err != nil {
		return nil, err
	}
	m, err := decodeManifest(b)
	if err != nil {
		return nil, err
	}
	if m.Size != r.Size {
		return nil, fmt.Errorf("%w: %d bytes, the object has %d", errBadManifest, m.Size, r.Size)
	}
	g.manifests.put(r.ObjectID, m)
	return m, nil
}

// countWriter counts what passes through.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// readBlob writes length bytes of a blob from offset to w (size is the blob's size).
func (g *Gateway) readBlob(ctx context.Context, blobID string, size, offset, length int64, w io.Writer) error {
	if length == 0 {
		return nil
	}
	id, err := parseBlobID(blobID)
	if err != nil {
		return fmt.Errorf("%w: %w", errBadRecord, err)
	}
	cw := &countWriter{w: w}
	if offset == 0 && length == size {
		_, err = g.reader.Read(ctx, id, cw)
	} else {
		err = g.reader.ReadRange(ctx, id, uint64(offset), uint64(length), cw)
	}
	if err != nil {
		return err
	}
	if cw.n != length {
		return fmt.Errorf("s3gw: blob %s gave %d bytes, want %d", blobID, cw.n, length)
	}
	return nil
}

// readObject writes length bytes of an object from offset to w.
func (g *Gateway) readObject(ctx context.Context, r *record, offset, length int64, w io.Writer) error {
	if offset < 0 || length < 0 || offset+length > r.Size {
		return client.ErrInvalidRange
	}
	if r.Layout == layoutBlob {
		return g.readBlob(ctx, r.BlobID, r.Size, offset, length, w)
	}
	m, err := g.manifest(ctx, r)
	if err != nil {
		return err
	}
	var at int64
	for _, c := range m.Chunks {
		if length == 0 {
			break
		}
		if offset >= at+c.Size {
			at += c.Size
			continue
		}
		from := offset - at
		n := min(c.Size-from, length)
		if err := g.readBlob(ctx, c.BlobID, c.Size, from, n, w); err != nil {
			return err
		}
		offset, length = offset+n, length-n
		at += c.Size
	}
	return nil
}

// openObject returns a reader of length bytes of an object from offset. Copied with
// io.Copy (as the S3 library sends a body) it streams the object straight into the
// destination (WriteTo); read otherwise, a goroutine feeds it through a pipe. Either stops
// when ctx ends; Close ends the goroutine.
func (g *Gateway) openObject(ctx context.Context, r *record, offset, length int64) io.ReadCloser {
	return &objectReader{g: g, ctx: ctx, r: r, offset: offset, length: length}
}

type objectReader struct {
	g              *Gateway
	ctx            context.Context
	r              *record
	offset, length int64
	pr             *io.PipeReader
	used           bool
}

func (o *objectReader) WriteTo(w io.Writer) (int64, error) {
	if o.used {
		return 0, errors.New("s3gw: object reader used twice")
	}
	o.used = true
	cw := &countWriter{w: w}
	err := o.g.readObject(o.ctx, o.r, o.offset, o.length, cw)
	return cw.n, err
}

func (o *objectReader) Read(p []byte) (int, error) {
	if o.pr == nil {
		if o.used {
			return 0, errors.New("s3gw: object reader used twice")
		}
		o.used = true
		pr, pw := io.Pipe()
		o.pr = pr
		go func() {
			pw.CloseWithError(o.g.readObject(o.ctx, o.r, o.offset, o.length, pw))
		}()
	}
	return o.pr.Read(p)
}

func (o *objectReader) Close() error {
	if o.pr != nil {
		return o.pr.Close()
	}
	return nil
}
