package s3gw

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/floelabs/floe/client"
)

// What the gateway writes into a blob object's attributes (the control plane keeps them;
// they are the source of truth of every bucket and key). Each kind of record names itself
// with attrKind; a blob object without attrVersion is none of the gateway's business.
const (
	attrVersion = "s3.v"      // format version: "1"
	attrKind    = "s3.kind"   // kindBucket, kindObject or kindChunk
	attrBucket  = "s3.bucket" // bucket name
	attrKey     = "s3.key"    // object key (objects and chunks)
	attrETag    = "s3.etag"   // the S3 ETag without quotes (objects), the part's MD5 (chunks)
	attrSize    = "s3.size"   // the object's size in bytes (objects), the part's (chunks)
	attrMTime   = "s3.mtime"  // unix milliseconds of the write, as the writing gateway saw it
	attrLayout  = "s3.layout" // layoutBlob or layoutManifest (objects)
	attrEpochs  = "s3.epochs" // a bucket's default lifetime of new objects, in epochs
	attrOf      = "s3.of"     // the upload a chunk belongs to (chunks)
	attrPart    = "s3.part"   // the part number of a chunk (chunks)
	attrSeq     = "s3.seq"    // a chunk's place within its part (chunks)
	// attrMetaPrefix + "0", "1", ... hold the JSON of the object's metadata (user metadata and
	// the content headers), split into values of at most client.MaxAttributeValLen bytes.
	attrMetaPrefix = "s3.meta."

	formatVersion = "1"

	kindBucket = "bucket"
	kindObject = "object"
	kindChunk  = "chunk"

	// layoutBlob: the object's bytes are its blob. layoutManifest: its blob is a manifest
	// naming the chunk blobs that hold the bytes, in order. (A third layout, a patch of a
	// quilt, is where batching of small objects plugs in; see the package doc.)
	layoutBlob     = "blob"
	layoutManifest = "manifest"

	// maxMetaAttrs bounds the metadata attributes (8 KiB of JSON).
	maxMetaAttrs = 8
)

// record is what one blob object of the gateway says, decoded from its attributes: a bucket,
// an object, or a chunk of an upload.
type record struct {
	Kind     string          `json:"kind"`
	ObjectID client.ObjectID `json:"object"`
	BlobID   string          `json:"blob"`
	// End is the first epoch in which the blob is no longer stored.
	End     uint32 `json:"end"`
	Bucket  string `json:"bucket"`
	Key     string `json:"key,omitempty"`
	MTimeMs int64  `json:"mtime"`
	// Objects.
	Layout string            `json:"layout,omitempty"`
	Size   int64             `json:"size,omitempty"`
	ETag   string            `json:"etag,omitempty"`
	Meta   map[string]string `json:"meta,omitempty"`
	// Buckets.
	Epochs uint32 `json:"epochs,omitempty"`
	// Chunks.
	Of   string `json:"of,omitempty"`
	Part int    `json:"part,omitempty"`
	Seq  int    `json:"seq,omitempty"`
}

// newer reports whether r wins over o for the same bucket and key: the later write, then the
// larger object ID (so every gateway picks the same one).
func (r *record) newer(o *record) bool {
	if r.MTimeMs != o.MTimeMs {
		return r.MTimeMs > o.MTimeMs
	}
	return r.ObjectID.String() > o.ObjectID.String()
}

// encodeAttrs returns the attributes that describe r.
func encodeAttrs(r *record) (map[string]string, error) {
	a := map[string]string{
		attrVersion: formatVersion,
		attrKind:    r.Kind,
		attrBucket:  r.Bucket,
		attrMTime:   strconv.FormatInt(r.MTimeMs, 10),
	}
	switch r.Kind {
	case kindBucket:
		if r.Epochs > 0 {
			a[attrEpochs] = strconv.FormatUint(uint64(r.Epochs), 10)
		}
	case kindObject:
		a[attrKey], a[attrLayout], a[attrETag] = r.Key, r.Layout, r.ETag
		a[attrSize] = strconv.FormatInt(r.Size, 10)
		if len(r.Meta) > 0 {
			b, err := json.Marshal(r.Meta)
			if err != nil {
				return nil, err
			}
			for i := 0; len(b) > 0; i++ {
				if i == maxMetaAttrs {
					return nil, fmt.Errorf("%w: metadata of %d bytes", errMetadataTooLarge, len(b))
				}
				n := min(len(b), client.MaxAttributeValLen)
				a[attrMetaPrefix+strconv.Itoa(i)] = string(b[:n])
				b = b[n:]
			}
		}
	case kindChunk:
		a[attrKey], a[attrOf], a[attrETag] = r.Key, r.Of, r.ETag
		a[attrSize] = strconv.FormatInt(r.Size, 10)
		a[attrPart], a[attrSeq] = strconv.Itoa(r.Part), strconv.Itoa(r.Seq)
	default:
		return nil, fmt.Errorf("s3gw: unknown record kind %q", r.Kind)
	}
	for k, v := range a {
		if len(v) > client.MaxAttributeValLen {
			return nil, fmt.Errorf("%w: attribute %s has %d bytes, at most %d", errAttrTooLong, k, len(v), client.MaxAttributeValLen)
		}
	}
	return a, nil
}

// decodeBlob returns the record a blob object's attributes describe, or ok = false if they
// describe none (not a gateway object, or not well formed: attributes are anyone's input).
func decodeBlob(b *client.Blob) (r *record, ok bool) {
	r, err := decodeAttrs(b.Attributes)
	if err != nil {
		return nil, false
	}
	r.ObjectID, r.BlobID, r.End = b.ID, b.BlobID.String(), b.Storage.End
	return r, true
}

// decodeAttrs parses a record from attributes.
func decodeAttrs(a map[string]string) (*record, error) {
	if a[attrVersion] != formatVersion {
		return nil, errNotOurs
	}
	r := &record{Kind: a[attrKind], Bucket: a[attrBucket]}
	if !validBucketName(r.Bucket) {
		return nil, fmt.Errorf("%w: bucket %q", errBadRecord, r.Bucket)
	}
	var err error
	if r.MTimeMs, err = strconv.ParseInt(a[attrMTime], 10, 64); err != nil {
		return nil, fmt.Errorf("%w: mtime: %w", errBadRecord, err)
	}
	switch r.Kind {
	case kindBucket:
		if v, ok := a[attrEpochs]; ok {
			e, err := strconv.ParseUint(v, 10, 32)
			if err != nil || e == 0 {
				return nil, fmt.Errorf("%w: epochs %q", errBadRecord, v)
			}
			r.Epochs = uint32(e)
		}
		return r, nil
	case kindObject, kindChunk:
	default:
		return nil, fmt.Errorf("%w: kind %q", errBadRecord, r.Kind)
	}
	r.Key, r.ETag = a[attrKey], a[attrETag]
	if err := checkKey(r.Key); err != nil {
		return nil, fmt.Errorf("%w: %w", errBadRecord, err)
	}
	if r.Size, err = strconv.ParseInt(a[attrSize], 10, 64); err != nil || r.Size < 0 {
		return nil, fmt.Errorf("%w: size %q", errBadRecord, a[attrSize])
	}
	if r.Kind == kindChunk {
		r.Of = a[attrOf]
		if r.Of == "" || strings.ContainsRune(r.Of, 0) {
			return nil, fmt.Errorf("%w: chunk of %q", errBadRecord, r.Of)
		}
		if r.Part, err = strconv.Atoi(a[attrPart]); err != nil || r.Part < 0 || r.Part > maxPartNumber {
			return nil, fmt.Errorf("%w: part %q", errBadRecord, a[attrPart])
		}
		if r.Seq, err = strconv.Atoi(a[attrSeq]); err != nil || r.Seq < 0 || r.Seq > maxChunkSeq {
			return nil, fmt.Errorf("%w: seq %q", errBadRecord, a[attrSeq])
		}
		return r, nil
	}
	r.Layout = a[attrLayout]
	if r.Layout != layoutBlob && r.Layout != layoutManifest {
		return nil, fmt.Errorf("%w: layout %q", errBadRecord, r.Layout)
	}
	var meta []byte
	for i := 0; ; i++ {
		v, ok := a[attrMetaPrefix+strconv.Itoa(i)]
		if !ok {
			break
		}
		meta = append(meta, v...)
	}
	if len(meta) > 0 {
		if err := json.Unmarshal(meta, &r.Meta); err != nil {
			return nil, fmt.Errorf("%w: metadata: %w", errBadRecord, err)
		}
	}
	return r, nil
}

// Limits of the S3 protocol the gateway keeps.
const (
	maxKeyLen     = 1024
	maxPartNumber = 10000
	maxChunkSeq   = 1 << 20
)

// checkKey rejects keys S3 does not allow or the index cannot hold (NUL separates its fields).
func checkKey(k string) error {
	switch {
	case k == "":
		return fmt.Errorf("%w: empty key", errBadKey)
	case len(k) > maxKeyLen:
		return fmt.Errorf("%w: %d bytes, at most %d", errBadKey, len(k), maxKeyLen)
	case !utf8.ValidString(k):
		return fmt.Errorf("%w: not UTF-8", errBadKey)
	case strings.ContainsRune(k, 0):
		return fmt.Errorf("%w: contains NUL", errBadKey)
	}
	return nil
}

// validBucketName follows S3's rules for new buckets: 3-63 characters of lower-case letters,
// digits, dots and hyphens, starting and ending with a letter or digit.
func validBucketName(s string) bool {
	if len(s) < 3 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '.' || c == '-') && i > 0 && i < len(s)-1:
		default:
			return false
		}
	}
	return true
}

// manifest is the content of a manifest blob: the chunk blobs that hold an object's bytes, in
// order, and for a multipart upload its parts (for the ETag and partNumber reads).
type manifest struct {
	Version int             `json:"v"`
	Size    int64           `json:"size"`
	Chunks  []manifestChunk `json:"chunks"`
	Parts   []manifestPart  `json:"parts,omitempty"`
}

type manifestChunk struct {
	ObjectID client.ObjectID `json:"object"`
	BlobID   string          `json:"blob"`
	Size     int64           `json:"size"`
}

type manifestPart struct {
	Number int    `json:"n"`
	Size   int64  `json:"size"`
	ETag   string `json:"etag"`
}

// maxManifestBytes bounds a manifest blob (10,000 parts of a few chunks fit).
const maxManifestBytes = 16 << 20

// decodeManifest parses and checks a manifest blob (its bytes come from the network).
func decodeManifest(b []byte) (*manifest, error) {
	if len(b) > maxManifestBytes {
		return nil, fmt.Errorf("%w: %d bytes", errBadManifest, len(b))
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: %w", errBadManifest, err)
	}
	if m.Version != 1 {
		return nil, fmt.Errorf("%w: version %d", errBadManifest, m.Version)
	}
	var sum int64
	for _, c := range m.Chunks {
		if c.Size < 0 || sum+c.Size < sum {
			return nil, fmt.Errorf("%w: chunk size %d", errBadManifest, c.Size)
		}
		if _, err := parseBlobID(c.BlobID); err != nil {
			return nil, fmt.Errorf("%w: %w", errBadManifest, err)
		}
		sum += c.Size
	}
	if sum != m.Size {
		return nil, fmt.Errorf("%w: chunks hold %d bytes, size %d", errBadManifest, sum, m.Size)
	}
	var psum int64
	for i, p := range m.Parts {
		if p.Size < 0 || psum+p.Size < psum || p.Number < 1 || p.Number > maxPartNumber || (i > 0 && p.Number <= m.Parts[i-1].Number) {
			return nil, fmt.Errorf("%w: part %d", errBadManifest, p.Number)
		}
		psum += p.Size
	}
	if len(m.Parts) > 0 && psum != m.Size {
		return nil, fmt.Errorf("%w: parts hold %d bytes, size %d", errBadManifest, psum, m.Size)
	}
	return &m, nil
}
