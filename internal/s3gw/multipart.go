package s3gw

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/rclone/gofakes3"

	"github.com/floelabs/floe/client"
)

// upload is a multipart upload in progress. Its parts are stored as chunk blobs as they
// arrive (labelled with the upload ID, part number and their place in the part), so a part
// costs memory only while it is received; completion stores a manifest naming the chunks of
// the parts listed, in order.
type upload struct {
	id      gofakes3.UploadID
	w       *wallet
	bucket  string
	key     string
	meta    map[string]string
	epochs  uint32
	created time.Time

	mu    sync.Mutex
	parts map[int]*part
}

type part struct {
	etag   string // MD5 hex
	size   int64
	chunks []manifestChunk
}

func (b *backend) upload(ctx context.Context, bucket, key string, uid gofakes3.UploadID) (*identity, *upload, error) {
	id, err := b.who(ctx)
	if err != nil {
		return nil, nil, err
	}
	b.g.upMu.Lock()
	u := b.g.uploads[uid]
	b.g.upMu.Unlock()
	if u == nil || u.w != id.w || u.bucket != bucket || u.key != key {
		return nil, nil, gofakes3.ErrNoSuchUpload
	}
	return id, u, nil
}

func (b *backend) CreateMultipartUpload(ctx context.Context, bucket, key string, meta map[string]string) (gofakes3.UploadID, error) {
	id, err := b.who(ctx)
	if err != nil {
		return "", toS3(err)
	}
	br, err := b.bucket(id.w, bucket)
	if err != nil {
		return "", toS3(err)
	}
	if err := checkKey(key); err != nil {
		return "", toS3(err)
	}
	u := &upload{id: gofakes3.UploadID(newID()), w: id.w, bucket: bucket, key: key, meta: storedMeta(meta),
		epochs: b.epochs(id, br), created: time.Now(), parts: map[int]*part{}}
	b.g.upMu.Lock()
	b.g.uploads[u.id] = u
	b.g.upMu.Unlock()
	return u.id, nil
}

func (b *backend) UploadPart(ctx context.Context, bucket, key string, uid gofakes3.UploadID, number int, size int64, body io.Reader) (string, error) {
	_, u, err := b.upload(ctx, bucket, key, uid)
	if err != nil {
		return "", toS3(err)
	}
	g := b.g
	cr := g.newChunkReader(body, size)
	defer cr.release()
	p := &part{}
	fail := func(err error) (string, error) {
		ids := make([]client.ObjectID, len(p.chunks))
		for i, c := range p.chunks {
			ids[i] = c.ObjectID
		}
		g.deleteObjects(context.WithoutCancel(ctx), u.w, ids...)
		return "", toS3(err)
	}
	for {
		data, err := cr.next(ctx)
		if err != nil {
			return fail(err)
		}
		if data == nil {
			break
		}
		c := &record{Kind: kindChunk, Bucket: bucket, Key: key, Of: string(uid), Part: number, Seq: len(p.chunks),
			Size: data.size}
		if err := g.storeLabelled(ctx, u.w, data, u.epochs, c, nil); err != nil {
			return fail(err)
		}
		if err := g.ix.put(u.w.addr, c); err != nil {
			return fail(err)
		}
		p.chunks = append(p.chunks, manifestChunk{ObjectID: c.ObjectID, BlobID: c.BlobID, Size: c.Size})
	}
	p.size = cr.total
	if p.etag, err = cr.sum(); err != nil {
		return fail(err)
	}
	u.mu.Lock()
	old := u.parts[number]
	u.parts[number] = p
	u.mu.Unlock()
	if old != nil {
		g.dropPart(context.WithoutCancel(ctx), u.w, old)
	}
	return `"` + p.etag + `"`, nil
}

// dropPart deletes a part's chunks.
func (g *Gateway) dropPart(ctx context.Context, w *wallet, p *part) {
	ids := make([]client.ObjectID, len(p.chunks))
	for i, c := range p.chunks {
		ids[i] = c.ObjectID
	}
	if err := g.deleteObjects(ctx, w, ids...); err != nil {
		g.log.Warn("deleting an unused part", "err", err)
	}
}

func (b *backend) CompleteMultipartUpload(ctx context.Context, bucket, key string, uid gofakes3.UploadID, in *gofakes3.CompleteMultipartUploadRequest) (gofakes3.VersionID, string, error) {
	_, u, err := b.upload(ctx, bucket, key, uid)
	if err != nil {
		return "", "", toS3(err)
	}
	if len(in.Parts) == 0 {
		return "", "", gofakes3.ErrorMessage(gofakes3.ErrMalformedXML, "no parts")
	}
	u.mu.Lock()
	m := &manifest{Version: 1}
	sums := md5.New()
	used := map[int]bool{}
	for i, cp := range in.Parts {
		p := u.parts[cp.PartNumber]
		if i > 0 && cp.PartNumber <= in.Parts[i-1].PartNumber {
			u.mu.Unlock()
			return "", "", gofakes3.ErrInvalidPartOrder
		}
		if p == nil || strings.Trim(cp.ETag, `"`) != p.etag {
			u.mu.Unlock()
			return "", "", gofakes3.ErrorMessagef(gofakes3.ErrInvalidPart, "part %d is missing or its ETag differs", cp.PartNumber)
		}
		used[cp.PartNumber] = true
		m.Parts = append(m.Parts, manifestPart{Number: cp.PartNumber, Size: p.size, ETag: p.etag})
		m.Chunks = append(m.Chunks, p.chunks...)
		m.Size += p.size
		raw, _ := hex.DecodeString(p.etag)
		sums.Write(raw)
	}
	var unused []*part
	for n, p := range u.parts {
		if !used[n] {
			unused = append(unused, p)
		}
	}
	u.mu.Unlock()
	r := &record{Kind: kindObject, Bucket: bucket, Key: key, Layout: layoutManifest, Size: m.Size, Meta: u.meta,
		ETag: fmt.Sprintf("%s-%d", hex.EncodeToString(sums.Sum(nil)), len(in.Parts))}
	if err := b.g.writeManifest(ctx, u.w, r, m, u.epochs); err != nil {
		return "", "", toS3(err)
	}
	if err := b.g.commit(ctx, u.w, r); err != nil {
		return "", "", toS3(err)
	}
	b.g.upMu.Lock()
	delete(b.g.uploads, uid)
	b.g.upMu.Unlock()
	for _, p := range unused {
		b.g.dropPart(context.WithoutCancel(ctx), u.w, p)
	}
	return "", `"` + r.ETag + `"`, nil
}

func (b *backend) AbortMultipartUpload(ctx context.Context, bucket, key string, uid gofakes3.UploadID) error {
	_, u, err := b.upload(ctx, bucket, key, uid)
	if err != nil {
		return toS3(err)
	}
	b.g.upMu.Lock()
	delete(b.g.uploads, uid)
	b.g.upMu.Unlock()
	u.mu.Lock()
	parts := u.parts
	u.parts = map[int]*part{}
	u.mu.Unlock()
	for _, p := range parts {
		b.g.dropPart(ctx, u.w, p)
	}
	return nil
}
