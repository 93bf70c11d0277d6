package s3gw

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/rclone/gofakes3"

	"github.com/floelabs/floe/client"
)

// backend is the S3 library's storage, over the gateway. Every method runs for an
// authenticated request (identityFrom(ctx) is set by the gateway's middleware) and returns
// the library's error values (toS3).
type backend struct{ g *Gateway }

var (
	_ gofakes3.Backend          = (*backend)(nil)
	_ gofakes3.MultipartBackend = (*backend)(nil)
)

// who returns the request's identity after the read barrier.
func (b *backend) who(ctx context.Context) (*identity, error) {
	id := identityFrom(ctx)
	if id == nil {
		return nil, errNoIdentity
	}
	if !id.synced && !b.g.cfg.StaleReads {
		if err := b.g.fol.barrier(ctx); err != nil {
			return nil, err
		}
		id.synced = true
	}
	return id, nil
}

// bucket returns the oldest marker of a bucket of the wallet, or NoSuchBucket.
func (b *backend) bucket(w *wallet, name string) (*record, error) {
	ms, err := b.g.ix.bucketMarkers(w.addr, name)
	if err != nil {
		return nil, err
	}
	if len(ms) == 0 {
		return nil, gofakes3.BucketNotFound(name)
	}
	return ms[0], nil
}

// epochs returns the lifetime of a new object in bucket: the request's header, else the
// bucket's default, else the gateway's.
func (b *backend) epochs(id *identity, bucket *record) uint32 {
	switch {
	case id.epochs > 0:
		return id.epochs
	case bucket != nil && bucket.Epochs > 0:
		return bucket.Epochs
	}
	return b.g.cfg.DefaultEpochs
}

func (b *backend) ListBuckets(ctx context.Context) ([]gofakes3.BucketInfo, error) {
	id, err := b.who(ctx)
	if err != nil {
		return nil, toS3(err)
	}
	bs, err := b.g.ix.buckets(id.w.addr)
	if err != nil {
		return nil, toS3(err)
	}
	out := make([]gofakes3.BucketInfo, 0, len(bs))
	for _, r := range bs {
		out = append(out, gofakes3.BucketInfo{Name: r.Bucket, CreationDate: gofakes3.NewContentTime(time.UnixMilli(r.MTimeMs))})
	}
	return out, nil
}

func (b *backend) BucketExists(ctx context.Context, name string) (bool, error) {
	id, err := b.who(ctx)
	if err != nil {
		return false, toS3(err)
	}
	ms, err := b.g.ix.bucketMarkers(id.w.addr, name)
	if err != nil {
		return false, toS3(err)
	}
	return len(ms) > 0, nil
}

// bucketMarker is the content of a bucket's marker blob (unique, so that each marker is its
// own blob).
type bucketMarker struct {
	Bucket  string `json:"bucket"`
	Created int64  `json:"created_ms"`
	Nonce   string `json:"nonce"`
}

func (b *backend) CreateBucket(ctx context.Context, name string) error {
	id, err := b.who(ctx)
	if err != nil {
		return toS3(err)
	}
	if !validBucketName(name) {
		return gofakes3.ResourceError(gofakes3.ErrInvalidBucketName, name)
	}
	if _, err := b.bucket(id.w, name); err == nil {
		return gofakes3.ResourceError(gofakes3.ErrBucketAlreadyExists, name)
	}
	maxAhead, err := b.g.reader.MaxEpochsAhead(ctx)
	if err != nil {
		return toS3(err)
	}
	now := time.Now()
	content, err := json.Marshal(bucketMarker{Bucket: name, Created: now.UnixMilli(), Nonce: newID()})
	if err != nil {
		return toS3(err)
	}
	r := &record{Kind: kindBucket, Bucket: name, Epochs: id.epochs}
	if err := b.g.storeLabelled(ctx, id.w, memChunk(content), maxAhead, r, nil); err != nil {
		return toS3(err)
	}
	return toS3(b.g.ix.put(id.w.addr, r))
}

func (b *backend) DeleteBucket(ctx context.Context, name string) error {
	id, err := b.who(ctx)
	if err != nil {
		return toS3(err)
	}
	ms, err := b.g.ix.bucketMarkers(id.w.addr, name)
	if err != nil {
		return toS3(err)
	}
	if len(ms) == 0 {
		return gofakes3.BucketNotFound(name)
	}
	empty, err := b.g.ix.empty(id.w.addr, name)
	if err != nil {
		return toS3(err)
	}
	if !empty {
		return gofakes3.ResourceError(gofakes3.ErrBucketNotEmpty, name)
	}
	ids := make([]client.ObjectID, len(ms))
	for i, m := range ms {
		ids[i] = m.ObjectID
	}
	return toS3(b.g.deleteObjects(ctx, id.w, ids...))
}

func (b *backend) ListBucket(ctx context.Context, name string, prefix *gofakes3.Prefix, page gofakes3.ListBucketPage) (*gofakes3.ObjectList, error) {
	id, err := b.who(ctx)
	if err != nil {
		return nil, toS3(err)
	}
	if _, err := b.bucket(id.w, name); err != nil {
		return nil, toS3(err)
	}
	var p, d string
	if prefix != nil {
		p, d = prefix.Prefix, prefix.Delimiter
	}
	maxKeys := int(page.MaxKeys)
	if maxKeys <= 0 || maxKeys > gofakes3.MaxBucketKeys {
		maxKeys = gofakes3.MaxBucketKeys
	}
	marker := ""
	if page.HasMarker {
		marker = page.Marker
	}
	l, err := b.g.ix.list(id.w.addr, name, p, d, marker, maxKeys)
	if err != nil {
		return nil, toS3(err)
	}
	out := gofakes3.NewObjectList()
	for _, r := range l.Objects {
		out.Add(&gofakes3.Content{Key: r.Key, LastModified: gofakes3.NewContentTime(time.UnixMilli(r.MTimeMs)),
			ETag: `"` + r.ETag + `"`, Size: r.Size, StorageClass: "STANDARD"})
	}
	for _, cp := range l.Prefixes {
		out.AddPrefix(cp)
	}
	out.IsTruncated = l.Truncated
	if l.Truncated {
		out.NextMarker = l.Next
	}
	return out, nil
}

// object returns the visible record of bucket/key, or NoSuchBucket / NoSuchKey.
func (b *backend) object(id *identity, bucket, key string) (*record, error) {
	if _, err := b.bucket(id.w, bucket); err != nil {
		return nil, err
	}
	r, err := b.g.ix.object(id.w.addr, bucket, key)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, gofakes3.KeyNotFound(key)
	}
	return r, nil
}

// s3Object describes a record for the library; the ETag it cannot express (a multipart
// ETag's "-N") goes out through the identity's response override.
func (b *backend) s3Object(id *identity, r *record) *gofakes3.Object {
	meta := make(map[string]string, len(r.Meta)+1)
	for k, v := range r.Meta {
		meta[k] = v
	}
	meta["Last-Modified"] = time.UnixMilli(r.MTimeMs).UTC().Format(http.TimeFormat)
	if _, ok := meta["Content-Type"]; !ok {
		meta["Content-Type"] = "binary/octet-stream"
	}
	hexPart, _, composite := strings.Cut(r.ETag, "-")
	hash, _ := hex.DecodeString(hexPart)
	if composite {
		id.setETag(`"` + r.ETag + `"`)
	}
	return &gofakes3.Object{Name: r.Key, Metadata: meta, Size: r.Size, Hash: hash}
}

func (b *backend) HeadObject(ctx context.Context, bucket, key string) (*gofakes3.Object, error) {
	id, err := b.who(ctx)
	if err != nil {
		return nil, toS3(err)
	}
	r, err := b.object(id, bucket, key)
	if err != nil {
		return nil, toS3(err)
	}
	o := b.s3Object(id, r)
	o.Contents = io.NopCloser(bytes.NewReader(nil))
	return o, nil
}

func (b *backend) GetObject(ctx context.Context, bucket, key string, rng *gofakes3.ObjectRangeRequest) (*gofakes3.Object, error) {
	id, err := b.who(ctx)
	if err != nil {
		return nil, toS3(err)
	}
	r, err := b.object(id, bucket, key)
	if err != nil {
		return nil, toS3(err)
	}
	o := b.s3Object(id, r)
	or, err := rng.Range(r.Size)
	if err != nil {
		return nil, err
	}
	o.Range = or
	offset, length := int64(0), r.Size
	if or != nil {
		offset, length = or.Start, or.Length
	}
	o.Contents = b.g.openObject(ctx, r, offset, length)
	return o, nil
}

func (b *backend) PutObject(ctx context.Context, bucket, key string, meta map[string]string, input io.Reader, size int64) (gofakes3.PutObjectResult, error) {
	id, err := b.who(ctx)
	if err != nil {
		return gofakes3.PutObjectResult{}, toS3(err)
	}
	br, err := b.bucket(id.w, bucket)
	if err != nil {
		return gofakes3.PutObjectResult{}, toS3(err)
	}
	sm := storedMeta(meta)
	if name := id.checksum[0]; name != "" {
		// The checksum the gateway checked (authenticate), kept as the library keeps one.
		sm[name] = id.checksum[1]
	}
	r, err := b.g.writeObject(ctx, id.w, bucket, key, sm, input, size, b.epochs(id, br))
	if err != nil {
		return gofakes3.PutObjectResult{}, toS3(err)
	}
	return gofakes3.PutObjectResult{ETag: `"` + r.ETag + `"`}, nil
}

// storedMeta is the metadata kept with an object: what the request said, less what the
// gateway keeps itself.
func storedMeta(meta map[string]string) map[string]string {
	out := make(map[string]string, len(meta))
	for k, v := range meta {
		if k == "Last-Modified" {
			continue
		}
		out[k] = v
	}
	return out
}

// deleteKey deletes every object of bucket/key (the visible one and any it replaced).
func (b *backend) deleteKey(ctx context.Context, id *identity, bucket, key string) error {
	rs, err := b.g.ix.objects(id.w.addr, bucket, key)
	if err != nil {
		return err
	}
	var first error
	for _, r := range rs {
		if err := b.g.deleteRecord(ctx, id.w, r); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (b *backend) DeleteObject(ctx context.Context, bucket, key string) (gofakes3.ObjectDeleteResult, error) {
	id, err := b.who(ctx)
	if err != nil {
		return gofakes3.ObjectDeleteResult{}, toS3(err)
	}
	if _, err := b.bucket(id.w, bucket); err != nil {
		return gofakes3.ObjectDeleteResult{}, toS3(err)
	}
	return gofakes3.ObjectDeleteResult{}, toS3(b.deleteKey(ctx, id, bucket, key))
}

func (b *backend) DeleteMulti(ctx context.Context, bucket string, keys ...string) (gofakes3.MultiDeleteResult, error) {
	var res gofakes3.MultiDeleteResult
	id, err := b.who(ctx)
	if err != nil {
		return res, toS3(err)
	}
	if _, err := b.bucket(id.w, bucket); err != nil {
		return res, toS3(err)
	}
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		sem = make(chan struct{}, 8)
	)
	for _, k := range keys {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			err := b.deleteKey(ctx, id, bucket, k)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				res.Error = append(res.Error, gofakes3.ErrorResult{Key: k, Code: gofakes3.ErrInternal, Message: err.Error()})
				return
			}
			res.Deleted = append(res.Deleted, gofakes3.ObjectID{Key: k})
		}()
	}
	wg.Wait()
	return res, nil
}

func (b *backend) CopyObject(ctx context.Context, srcBucket, srcKey, dstBucket, dstKey string, meta map[string]string) (gofakes3.CopyObjectResult, error) {
	var res gofakes3.CopyObjectResult
	id, err := b.who(ctx)
	if err != nil {
		return res, toS3(err)
	}
	src, err := b.object(id, srcBucket, srcKey)
	if err != nil {
		return res, toS3(err)
	}
	dst, err := b.bucket(id.w, dstBucket)
	if err != nil {
		return res, toS3(err)
	}
	rc := b.g.openObject(ctx, src, 0, src.Size)
	defer rc.Close()
	r, err := b.g.writeObject(ctx, id.w, dstBucket, dstKey, storedMeta(meta), rc, src.Size, b.epochs(id, dst))
	if err != nil {
		return res, toS3(err)
	}
	res.ETag = `"` + r.ETag + `"`
	res.LastModified = gofakes3.NewContentTime(time.UnixMilli(r.MTimeMs))
	return res, nil
}
