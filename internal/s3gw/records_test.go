package s3gw

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/client"
)

func TestRecordAttrsRoundTrip(t *testing.T) {
	longMeta := map[string]string{"X-Amz-Meta-Big": strings.Repeat("m", 1500), "Content-Type": "text/plain"}
	for _, r := range []*record{
		{Kind: kindBucket, Bucket: "photos", MTimeMs: 1700000000000, Epochs: 5},
		{Kind: kindBucket, Bucket: "a.b-c", MTimeMs: 1},
		{Kind: kindObject, Bucket: "photos", Key: "a/b/ü.txt", MTimeMs: 2, Layout: layoutBlob, Size: 11, ETag: "abc", Meta: map[string]string{"X-Amz-Meta-Owner": "alice"}},
		{Kind: kindObject, Bucket: "photos", Key: "k", MTimeMs: 3, Layout: layoutManifest, Size: 1 << 40, ETag: "def-3", Meta: longMeta},
		{Kind: kindChunk, Bucket: "photos", Key: "k", MTimeMs: 4, Of: "upload", Part: 10000, Seq: 7, Size: 5, ETag: "0"},
	} {
		a, err := encodeAttrs(r)
		if err != nil {
			t.Fatal(err)
		}
		if len(a) > client.MaxAttributes {
			t.Fatalf("%d attributes", len(a))
		}
		for k, v := range a {
			if len(k) > client.MaxAttributeKeyLen || len(v) > client.MaxAttributeValLen {
				t.Fatalf("attribute %s of %d bytes", k, len(v))
			}
		}
		got, err := decodeAttrs(a)
		if err != nil {
			t.Fatalf("%+v: %v", r, err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, r)
		}
	}
	huge := &record{Kind: kindObject, Bucket: "photos", Key: "k", Layout: layoutBlob, Meta: map[string]string{"X-Amz-Meta-A": strings.Repeat("x", 9000)}}
	if _, err := encodeAttrs(huge); !errors.Is(err, errMetadataTooLarge) {
		t.Fatalf("9000 bytes of metadata: %v", err)
	}
}

func TestDecodeAttrsRejects(t *testing.T) {
	good := map[string]string{attrVersion: "1", attrKind: kindObject, attrBucket: "photos", attrKey: "k", attrMTime: "1",
		attrLayout: layoutBlob, attrSize: "3", attrETag: "e"}
	if _, err := decodeAttrs(good); err != nil {
		t.Fatal(err)
	}
	for name, change := range map[string][2]string{
		"no version":  {attrVersion, ""},
		"version 2":   {attrVersion, "2"},
		"bad bucket":  {attrBucket, "Bad_Bucket"},
		"empty key":   {attrKey, ""},
		"NUL in key":  {attrKey, "a\x00b"},
		"bad size":    {attrSize, "-1"},
		"bad mtime":   {attrMTime, "x"},
		"bad layout":  {attrLayout, "quilt"},
		"bad kind":    {attrKind, "other"},
		"bad meta":    {attrMetaPrefix + "0", "{"},
		"key too big": {attrKey, strings.Repeat("k", 1025)},
	} {
		a := map[string]string{}
		for k, v := range good {
			a[k] = v
		}
		if change[1] == "" {
			delete(a, change[0])
		} else {
			a[change[0]] = change[1]
		}
		if _, err := decodeAttrs(a); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzDecodeAttrs(f *testing.F) {
	for _, r := range []*record{
		{Kind: kindBucket, Bucket: "photos", MTimeMs: 1, Epochs: 5},
		{Kind: kindObject, Bucket: "photos", Key: "a/b", MTimeMs: 2, Layout: layoutManifest, Size: 9, ETag: "x-2", Meta: map[string]string{"A": "b"}},
		{Kind: kindChunk, Bucket: "photos", Key: "k", MTimeMs: 4, Of: "u", Part: 1, Seq: 2, Size: 5},
	} {
		a, err := encodeAttrs(r)
		if err != nil {
			f.Fatal(err)
		}
		b, _ := json.Marshal(a)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var a map[string]string
		if json.Unmarshal(b, &a) != nil {
			return
		}
		r, err := decodeAttrs(a)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to attributes that decode to the same record.
		a2, err := encodeAttrs(r)
		if err != nil {
			return // metadata too large to write back is refused at write time
		}
		r2, err := decodeAttrs(a2)
		if err != nil || !reflect.DeepEqual(r, r2) {
			t.Fatalf("%+v re-encoded: %+v, %v", r, r2, err)
		}
	})
}

func TestDecodeManifest(t *testing.T) {
	id := blob.ID{1, 2, 3}.String()
	good := `{"v":1,"size":7,"chunks":[{"object":"0x` + strings.Repeat("0", 64) + `","blob":"` + id + `","size":3},{"object":"0x` + strings.Repeat("1", 64) + `","blob":"` + id + `","size":4}],"parts":[{"n":1,"size":3,"etag":"a"},{"n":2,"size":4,"etag":"b"}]}`
	if _, err := decodeManifest([]byte(good)); err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]string{
		"sizes disagree":  strings.Replace(good, `"size":7`, `"size":8`, 1),
		"version":         strings.Replace(good, `"v":1`, `"v":2`, 1),
		"bad blob ID":     strings.Replace(good, id, "nope", 1),
		"parts unordered": strings.Replace(good, `"n":2`, `"n":1`, 1),
		"negative size":   strings.Replace(good, `"size":3}`, `"size":-3}`, 1),
		"not JSON":        good[:20],
	} {
		if _, err := decodeManifest([]byte(bad)); !errors.Is(err, errBadManifest) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func FuzzDecodeManifest(f *testing.F) {
	f.Add([]byte(`{"v":1,"size":0,"chunks":[]}`))
	f.Add([]byte(`{"v":1,"size":3,"chunks":[{"object":"0x` + strings.Repeat("a", 64) + `","blob":"` + blob.ID{9}.String() + `","size":3}],"parts":[{"n":1,"size":3,"etag":"x"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeManifest(b)
		if err != nil {
			return
		}
		var sum int64
		for _, c := range m.Chunks {
			if c.Size < 0 {
				t.Fatal("negative chunk accepted")
			}
			sum += c.Size
		}
		if sum != m.Size {
			t.Fatalf("chunks hold %d, size %d", sum, m.Size)
		}
	})
}
