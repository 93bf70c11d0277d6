package e2e

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/floelabs/floe/client"
	"github.com/floelabs/floe/internal/devnet"
	"github.com/floelabs/floe/internal/devnet/devnettest"
	"github.com/floelabs/floe/internal/s3gw"
)

func get(t testing.TB, c *s3.Client, bucket, key string, rng string) ([]byte, *s3.GetObjectOutput) {
	t.Helper()
	in := &s3.GetObjectInput{Bucket: &bucket, Key: &key}
	if rng != "" {
		in.Range = &rng
	}
	out, err := c.GetObject(context.Background(), in)
	if err != nil {
		t.Fatalf("GET %s/%s %s: %v", bucket, key, rng, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("GET %s/%s: reading: %v", bucket, key, err)
	}
	return b, out
}

func put(t testing.TB, c *s3.Client, bucket, key string, data []byte, mod ...func(*s3.PutObjectInput)) *s3.PutObjectOutput {
	t.Helper()
	in := &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data)))}
	for _, m := range mod {
		m(in)
	}
	out, err := c.PutObject(context.Background(), in)
	if err != nil {
		t.Fatalf("PUT %s/%s: %v", bucket, key, err)
	}
	return out
}

func errCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func md5q(b []byte) string {
	s := md5.Sum(b)
	return `"` + hex.EncodeToString(s[:]) + `"`
}

// list returns every key and common prefix of a ListObjectsV2, paging maxKeys at a time.
func list(t testing.TB, c *s3.Client, bucket, prefix, delim string, maxKeys int32) (keys, prefixes []string, pages int) {
	t.Helper()
	in := &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: &prefix, MaxKeys: &maxKeys}
	if delim != "" {
		in.Delimiter = &delim
	}
	for {
		out, err := c.ListObjectsV2(context.Background(), in)
		if err != nil {
			t.Fatalf("list %s %q %q: %v", bucket, prefix, delim, err)
		}
		pages++
		if n := len(out.Contents) + len(out.CommonPrefixes); n > int(maxKeys) {
			t.Fatalf("a page of %d entries, max-keys %d", n, maxKeys)
		}
		for _, o := range out.Contents {
			keys = append(keys, *o.Key)
		}
		for _, p := range out.CommonPrefixes {
			prefixes = append(prefixes, *p.Prefix)
		}
		if !aws.ToBool(out.IsTruncated) {
			return keys, prefixes, pages
		}
		in.ContinuationToken = out.NextContinuationToken
		if pages > 1000 {
			t.Fatal("listing does not end")
		}
	}
}

// walletBlobs returns the blob objects of the gateway's wallet (through the control plane).
func walletBlobs(t testing.TB, info devnet.Info) []client.Blob {
	t.Helper()
	keys, err := s3gw.LoadKeys(filepath.Join(info.Dir, devnet.S3KeysFile))
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(context.Background(), client.Config{ControlPlaneURL: info.ControlPlane})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a := client.Address(keys[0].Wallet.Address())
	bs, err := c.ListBlobs(context.Background(), &a)
	if err != nil {
		t.Fatal(err)
	}
	return bs
}

// TestS3API drives the gateway of a small devnet with the AWS SDK for Go: buckets, objects
// with metadata, ranges, listings with prefixes, delimiters and pages, overwrite, copy,
// deletes, multipart uploads, presigned URLs, lifetimes in epochs, refused signatures, a
// restart of the gateway and a second gateway on the same wallet. The gateway spills chunks
// above 1 MiB to temporary files, so that objects and parts of 1-5 MiB go through the path
// large bodies take (stored from a file) and smaller ones through the in-memory one.
func TestS3API(t *testing.T) {
	n := startNetEpochs(t, 4, 40, 0, []string{"--spill-above", "1024"})
	info := n.Info()
	ctx := context.Background()
	c := sdk(info.S3, info.S3AccessKey, info.S3SecretKey)

	// Buckets.
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("photos")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("photos")}); errCode(err) != "BucketAlreadyExists" {
		t.Fatalf("creating a bucket twice: %v", err)
	}
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("Bad_Name")}); err == nil {
		t.Fatal("a bucket with an invalid name was created")
	}
	// A bucket whose objects live 3 epochs unless they say otherwise.
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("short")}, withHeader(s3gw.HeaderEpochs, "3")); err != nil {
		t.Fatal(err)
	}
	lb, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range lb.Buckets {
		names = append(names, *b.Name)
	}
	if !slices.Equal(names, []string{"photos", "short"}) {
		t.Fatalf("buckets %v", names)
	}

	// Objects with metadata and content types; an empty object.
	small := []byte("hello floe\n")
	out := put(t, c, "photos", "a/hello.txt", small, func(in *s3.PutObjectInput) {
		in.ContentType = aws.String("text/plain")
		in.Metadata = map[string]string{"owner": "alice", "purpose": "test"}
		in.CacheControl = aws.String("max-age=60")
	})
	if aws.ToString(out.ETag) != md5q(small) {
		t.Fatalf("ETag %s, want %s", aws.ToString(out.ETag), md5q(small))
	}
	put(t, c, "photos", "empty", nil)
	big := randomBytes(1, 3<<20+123)
	put(t, c, "photos", "a/b/big.bin", big)
	for _, k := range []string{"a/b/c/1", "a/b/c/2", "a/d/3", "b/4", "c", "d/"} {
		put(t, c, "photos", k, []byte(k))
	}
	got, g := get(t, c, "photos", "a/hello.txt", "")
	mustEqual(t, "small object", got, small)
	if aws.ToString(g.ContentType) != "text/plain" || g.Metadata["owner"] != "alice" || g.Metadata["purpose"] != "test" ||
		aws.ToString(g.CacheControl) != "max-age=60" || aws.ToString(g.ETag) != md5q(small) {
		t.Fatalf("GET headers: type %q meta %v cache %q etag %q", aws.ToString(g.ContentType), g.Metadata, aws.ToString(g.CacheControl), aws.ToString(g.ETag))
	}
	if got, _ := get(t, c, "photos", "empty", ""); len(got) != 0 {
		t.Fatalf("empty object read as %d bytes", len(got))
	}
	got, _ = get(t, c, "photos", "a/b/big.bin", "")
	mustEqual(t, "3 MiB object", got, big)
	for _, r := range [][2]int{{0, 0}, {5, 1 << 20}, {len(big) - 10, len(big) - 1}, {1234567, 2345678}} {
		got, g := get(t, c, "photos", "a/b/big.bin", fmt.Sprintf("bytes=%d-%d", r[0], r[1]))
		mustEqual(t, fmt.Sprintf("range %v", r), got, big[r[0]:r[1]+1])
		if want := fmt.Sprintf("bytes %d-%d/%d", r[0], r[1], len(big)); aws.ToString(g.ContentRange) != want {
			t.Fatalf("Content-Range %q, want %q", aws.ToString(g.ContentRange), want)
		}
	}
	got, _ = get(t, c, "photos", "a/b/big.bin", "bytes=-100")
	mustEqual(t, "suffix range", got, big[len(big)-100:])
	if _, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("photos"), Key: aws.String("a/b/big.bin"), Range: aws.String(fmt.Sprintf("bytes=%d-", len(big)+5))}); err == nil {
		t.Fatal("a range past the end was served")
	}
	h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("photos"), Key: aws.String("a/b/big.bin")})
	if err != nil || aws.ToInt64(h.ContentLength) != int64(len(big)) || aws.ToString(h.ETag) != md5q(big) {
		t.Fatalf("HEAD: %v %+v", err, h)
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("photos"), Key: aws.String("nope")}); err == nil {
		t.Fatal("HEAD of a missing key succeeded")
	}
	if _, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("photos"), Key: aws.String("nope")}); errCode(err) != "NoSuchKey" {
		t.Fatalf("GET of a missing key: %v", err)
	}
	if _, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("nobucket"), Key: aws.String("x")}); errCode(err) != "NoSuchBucket" {
		t.Fatalf("GET in a missing bucket: %v", err)
	}

	// Listings: all keys, prefixes, delimiters, pages of every size.
	all := []string{"a/b/big.bin", "a/b/c/1", "a/b/c/2", "a/d/3", "a/hello.txt", "b/4", "c", "d/", "empty"}
	for _, mk := range []int32{1, 2, 3, 1000} {
		keys, _, pages := list(t, c, "photos", "", "", mk)
		if !slices.Equal(keys, all) {
			t.Fatalf("max-keys %d: keys %v, want %v", mk, keys, all)
		}
		if mk == 2 && pages != 5 {
			t.Fatalf("max-keys 2: %d pages", pages)
		}
		keys, prefixes, _ := list(t, c, "photos", "", "/", mk)
		if !slices.Equal(keys, []string{"c", "empty"}) || !slices.Equal(prefixes, []string{"a/", "b/", "d/"}) {
			t.Fatalf("max-keys %d, delimiter /: keys %v prefixes %v", mk, keys, prefixes)
		}
		keys, prefixes, _ = list(t, c, "photos", "a/", "/", mk)
		if !slices.Equal(keys, []string{"a/hello.txt"}) || !slices.Equal(prefixes, []string{"a/b/", "a/d/"}) {
			t.Fatalf("max-keys %d, prefix a/ delimiter /: keys %v prefixes %v", mk, keys, prefixes)
		}
		keys, _, _ = list(t, c, "photos", "a/b", "", mk)
		if !slices.Equal(keys, []string{"a/b/big.bin", "a/b/c/1", "a/b/c/2"}) {
			t.Fatalf("max-keys %d, prefix a/b: %v", mk, keys)
		}
	}

	// ListObjects (version 1), paged by its NextMarker.
	var v1keys, v1prefixes []string
	marker := ""
	for page := 0; ; page++ {
		out, err := c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String("photos"), Delimiter: aws.String("/"), MaxKeys: aws.Int32(2), Marker: aws.String(marker)})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out.Contents {
			v1keys = append(v1keys, *o.Key)
		}
		for _, p := range out.CommonPrefixes {
			v1prefixes = append(v1prefixes, *p.Prefix)
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		marker = aws.ToString(out.NextMarker)
		if page > 10 {
			t.Fatal("ListObjects does not end")
		}
	}
	if !slices.Equal(v1keys, []string{"c", "empty"}) || !slices.Equal(v1prefixes, []string{"a/", "b/", "d/"}) {
		t.Fatalf("ListObjects: keys %v prefixes %v", v1keys, v1prefixes)
	}

	// Overwrite: the new bytes win and the replaced blob object is deleted.
	before := len(walletBlobs(t, info))
	put(t, c, "photos", "c", []byte("new c"))
	got, _ = get(t, c, "photos", "c", "")
	mustEqual(t, "overwritten", got, []byte("new c"))
	if after := len(walletBlobs(t, info)); after != before {
		t.Fatalf("an overwrite left %d blob objects, %d before", after, before)
	}

	// Copy, with new metadata; delete; delete several.
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("short"), Key: aws.String("copy.bin"),
		CopySource: aws.String("photos/a/b/big.bin")}); err != nil {
		t.Fatal(err)
	}
	got, _ = get(t, c, "short", "copy.bin", "")
	mustEqual(t, "copy", got, big)
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("photos"), Key: aws.String("b/4")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("photos"), Delete: &types.Delete{
		Objects: []types.ObjectIdentifier{{Key: aws.String("a/b/c/1")}, {Key: aws.String("a/b/c/2")}, {Key: aws.String("never-was")}}}}); err != nil {
		t.Fatal(err)
	}
	keys, _, _ := list(t, c, "photos", "", "", 1000)
	if want := []string{"a/b/big.bin", "a/d/3", "a/hello.txt", "c", "d/", "empty"}; !slices.Equal(keys, want) {
		t.Fatalf("after deletes: %v, want %v", keys, want)
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("photos")}); errCode(err) != "BucketNotEmpty" {
		t.Fatalf("deleting a full bucket: %v", err)
	}

	// Lifetimes: the bucket's default, the header's override, the gateway's default (10).
	// (Objects larger than any freed storage resource, which a store would reuse: a reused
	// resource may outlive the request.)
	put(t, c, "short", "x", randomBytes(10, 4<<20))
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("short"), Key: aws.String("y"), Body: bytes.NewReader(randomBytes(11, 4<<20))},
		withHeader(s3gw.HeaderEpochs, "7")); err != nil {
		t.Fatal(err)
	}
	put(t, c, "photos", "z", randomBytes(12, 4<<20))
	ends := map[string]uint32{}
	for _, b := range walletBlobs(t, info) {
		if b.Attributes["s3.kind"] == "object" {
			ends[b.Attributes["s3.bucket"]+"/"+b.Attributes["s3.key"]] = b.Storage.End - b.RegisteredEpoch
		}
	}
	if ends["short/x"] != 3 || ends["short/y"] != 7 || ends["photos/z"] != 10 {
		t.Fatalf("lifetimes in epochs %v", ends)
	}

	// A multipart upload of three parts: the object reads back whole and in ranges, with a
	// multipart ETag.
	parts := [][]byte{randomBytes(2, 5<<20), randomBytes(3, 5<<20), randomBytes(4, 1<<20+17)}
	whole := bytes.Join(parts, nil)
	mp, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("photos"), Key: aws.String("mp.bin"),
		ContentType: aws.String("application/x-test")})
	if err != nil {
		t.Fatal(err)
	}
	var done []types.CompletedPart
	for i, p := range parts {
		up, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("photos"), Key: aws.String("mp.bin"), UploadId: mp.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p), ContentLength: aws.Int64(int64(len(p)))})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(up.ETag) != md5q(p) {
			t.Fatalf("part %d: ETag %s, want %s", i+1, aws.ToString(up.ETag), md5q(p))
		}
		done = append(done, types.CompletedPart{ETag: up.ETag, PartNumber: aws.Int32(int32(i + 1))})
	}
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("photos"), Key: aws.String("mp.bin"),
		UploadId: mp.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: done}}); err != nil {
		t.Fatal(err)
	}
	got, g = get(t, c, "photos", "mp.bin", "")
	mustEqual(t, "multipart object", got, whole)
	var partSums []byte
	for _, p := range parts {
		s := md5.Sum(p)
		partSums = append(partSums, s[:]...)
	}
	if want := fmt.Sprintf(`"%x-3"`, md5.Sum(partSums)); aws.ToString(g.ETag) != want || aws.ToString(g.ContentType) != "application/x-test" {
		t.Fatalf("multipart object: ETag %s, type %s", aws.ToString(g.ETag), aws.ToString(g.ContentType))
	}
	got, _ = get(t, c, "photos", "mp.bin", fmt.Sprintf("bytes=%d-%d", 5<<20-10, 10<<20+10))
	mustEqual(t, "range across parts", got, whole[5<<20-10:10<<20+11])
	// An aborted upload leaves nothing.
	ab, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("photos"), Key: aws.String("aborted")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("photos"), Key: aws.String("aborted"), UploadId: ab.UploadId,
		PartNumber: aws.Int32(1), Body: bytes.NewReader([]byte("part")), ContentLength: aws.Int64(4)}); err != nil {
		t.Fatal(err)
	}
	before = len(walletBlobs(t, info))
	if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("photos"), Key: aws.String("aborted"), UploadId: ab.UploadId}); err != nil {
		t.Fatal(err)
	}
	if after := len(walletBlobs(t, info)); after != before-1 {
		t.Fatalf("abort: %d blob objects, %d before", after, before)
	}

	// Presigned URLs, with nothing but the URL.
	ps := s3.NewPresignClient(c)
	pu, err := ps.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("photos"), Key: aws.String("presigned")}, s3.WithPresignExpires(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPut, pu.URL, bytes.NewReader([]byte("via a presigned URL")))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("presigned PUT: %v %v", err, resp)
	}
	// Bodies of unknown length (chunked transfer encoding): one the gateway keeps in memory
	// and one it spills after its first MiB.
	for i, size := range []int{512, 3<<20 + 5} {
		data := randomBytes(uint64(20+i), size)
		key := fmt.Sprintf("unsized-%d", i)
		pu, err := ps.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("photos"), Key: aws.String(key)}, s3.WithPresignExpires(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPut, pu.URL, io.MultiReader(bytes.NewReader(data)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") != md5q(data) {
			t.Fatalf("PUT of %d bytes of unknown length: %s, ETag %s, want %s", size, resp.Status, resp.Header.Get("ETag"), md5q(data))
		}
		got, g := get(t, c, "photos", key, "")
		mustEqual(t, key, got, data)
		if aws.ToString(g.ETag) != md5q(data) {
			t.Fatalf("%s: ETag %s, want %s", key, aws.ToString(g.ETag), md5q(data))
		}
		if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("photos"), Key: aws.String(key)}); err != nil {
			t.Fatal(err)
		}
	}
	pg, err := ps.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("photos"), Key: aws.String("presigned")}, s3.WithPresignExpires(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "via a presigned URL" {
		t.Fatalf("presigned GET: %s %q", resp.Status, body)
	}
	tampered := strings.Replace(pg.URL, "presigned", "a/hello.txt", 1)
	if resp, err := http.Get(tampered); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a presigned URL for another key: %v %v", err, resp)
	}

	// Refused: a wrong secret, an unknown key, no signature, a body that is not the signed one.
	bad := sdk(info.S3, info.S3AccessKey, "wrong-secret")
	if _, err := bad.ListBuckets(ctx, &s3.ListBucketsInput{}); errCode(err) != "SignatureDoesNotMatch" {
		t.Fatalf("a wrong secret: %v", err)
	}
	if _, err := sdk(info.S3, "NOSUCHKEY", "x").ListBuckets(ctx, &s3.ListBucketsInput{}); errCode(err) != "InvalidAccessKeyId" {
		t.Fatalf("an unknown key: %v", err)
	}
	if resp, err := http.Get(info.S3 + "/photos/a/hello.txt"); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("an anonymous GET: %v %v", err, resp)
	}
	if code := signedPut(t, info, "/photos/swapped", []byte("signed body"), []byte("other body!")); code != http.StatusBadRequest {
		t.Fatalf("a body that does not match its signed SHA-256: status %d", code)
	}
	if code := signedPut(t, info, "/photos/signed", []byte("signed body"), []byte("signed body")); code != http.StatusOK {
		t.Fatalf("a body with its signed SHA-256: status %d", code)
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("photos"), Key: aws.String("swapped")}); err == nil {
		t.Fatal("the swapped body's object exists")
	}

	// A second gateway on the same wallet (its own index) sees everything at once, and
	// writes through it are seen by the first.
	second := startGateway(t, info, filepath.Join(t.TempDir(), "idx2"))
	c2 := sdk(second, info.S3AccessKey, info.S3SecretKey)
	k1, _, _ := list(t, c, "photos", "", "", 1000)
	k2, _, _ := list(t, c2, "photos", "", "", 1000)
	if !slices.Equal(k1, k2) {
		t.Fatalf("second gateway lists %v, first %v", k2, k1)
	}
	put(t, c2, "photos", "from-second", []byte("2"))
	got, _ = get(t, c, "photos", "from-second", "")
	mustEqual(t, "written through the second gateway, read through the first", got, []byte("2"))
	if _, err := c2.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("photos"), Key: aws.String("c")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("photos"), Key: aws.String("c")}); err == nil {
		t.Fatal("a key deleted through the second gateway is still seen by the first")
	}

	// A restart of the devnet's gateway keeps its index and resumes following.
	k1, _, _ = list(t, c, "photos", "", "", 1000)
	if err := n.S3().Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	put(t, c2, "photos", "while-down", []byte("d"))
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := n.StartS3(sctx); err != nil {
		t.Fatal(err)
	}
	k3, _, _ := list(t, c, "photos", "", "", 1000)
	if want := append(slices.Clone(k1), "while-down"); !slices.Equal(k3, slices.Sorted(slices.Values(want))) {
		t.Fatalf("after a restart: %v, want %v", k3, want)
	}
	got, _ = get(t, c, "photos", "mp.bin", "")
	mustEqual(t, "multipart object after a restart", got, whole)
}

// startGateway runs another `floe s3` on the devnet's S3 wallet and keys; it returns its URL.
func startGateway(t testing.TB, info devnet.Info, dir string) string {
	t.Helper()
	addr := devnettest.FreeAddr(t)
	cmd := exec.Command(floeBin, "s3", "--config", filepath.Join(info.Dir, "s3_client_config.yaml"),
		"--keys", filepath.Join(info.Dir, devnet.S3KeysFile), "--listen", addr, "--dir", dir)
	logf, err := os.Create(filepath.Join(t.TempDir(), "s3.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		logf.Close()
	})
	url := "http://" + addr
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(url + s3gw.HealthPath)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the second gateway did not answer: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// withHeader adds a header to a request of the SDK (signed with it).
func withHeader(k, v string) func(*s3.Options) {
	return s3.WithAPIOptions(smithyhttp.AddHeaderValue(k, v))
}

// signedPut PUTs body to the devnet's gateway with a signature over the SHA-256 of signed
// and returns the status.
func signedPut(t testing.TB, info devnet.Info, path string, signed, body []byte) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, info.S3+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(signed)
	hash := hex.EncodeToString(h[:])
	req.Header.Set("X-Amz-Content-Sha256", hash)
	err = v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: info.S3AccessKey, SecretAccessKey: info.S3SecretKey},
		req, hash, "s3", "us-east-1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Logf("PUT %s: %s: %s", path, resp.Status, b)
	}
	return resp.StatusCode
}

// TestS3Expiry: an object stored for one epoch leaves the bucket at the next epoch change,
// one stored for more stays.
func TestS3Expiry(t *testing.T) {
	n := startNetEpochs(t, 4, 40, 8*time.Second, nil)
	info := n.Info()
	ctx := context.Background()
	c := sdk(info.S3, info.S3AccessKey, info.S3SecretKey)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("exp")}); err != nil {
		t.Fatal(err)
	}
	for key, epochs := range map[string]string{"one": "1", "many": "20"} {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("exp"), Key: aws.String(key), Body: bytes.NewReader([]byte(key))},
			withHeader(s3gw.HeaderEpochs, epochs)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		_, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("exp"), Key: aws.String("one")})
		if err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("an object stored for one epoch is still there after two minutes of 8 s epochs")
		}
		time.Sleep(time.Second)
	}
	keys, _, _ := list(t, c, "exp", "", "", 100)
	if !slices.Equal(keys, []string{"many"}) {
		t.Fatalf("after the expiry: %v", keys)
	}
	got, _ := get(t, c, "exp", "many", "")
	mustEqual(t, "the longer-lived object", got, []byte("many"))
}
