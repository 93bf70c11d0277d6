package e2e

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/floelabs/floe/internal/devnet"
)

// How a test sends a body: the ways S3 clients do.
const (
	sentSigned    = "signed"    // Content-Length, the body's SHA-256 signed (the AWS SDK over HTTP)
	sentUnsigned  = "unsigned"  // Content-Length, UNSIGNED-PAYLOAD (the AWS CLI over HTTPS)
	sentUnsized   = "unsized"   // chunked transfer encoding, UNSIGNED-PAYLOAD: no length
	sentStreaming = "streaming" // aws-chunked, STREAMING-AWS4-HMAC-SHA256-PAYLOAD (every chunk signed)
	sentTrailer   = "trailer"   // aws-chunked, STREAMING-UNSIGNED-PAYLOAD-TRAILER with a CRC32 trailer
)

// awsChunk is the aws-chunked chunk size the tests send (the SDKs send 64 KiB).
const awsChunk = 64 << 10

// sendBody sends data to the devnet's gateway (method PUT, pathQuery such as
// "/bucket/key?partNumber=1&uploadId=..."), signed by the devnet's access key the way mode
// says, with the extra headers hdr (signed too), and returns the status, the S3 error code
// (if any) and the ETag.
func sendBody(t testing.TB, info devnet.Info, pathQuery, mode string, data []byte, hdr map[string]string) (status int, code, etag string) {
	t.Helper()
	ctx := context.Background()
	creds := aws.Credentials{AccessKeyID: info.S3AccessKey, SecretAccessKey: info.S3SecretKey}
	now := time.Now()
	req, err := http.NewRequest(http.MethodPut, info.S3+pathQuery, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	var body []byte
	payload := "UNSIGNED-PAYLOAD"
	switch mode {
	case sentSigned:
		s := sha256.Sum256(data)
		payload = hex.EncodeToString(s[:])
		body = data
	case sentUnsigned, sentUnsized:
		body = data
	case sentStreaming:
		payload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	case sentTrailer:
		payload = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
		req.Header.Set("X-Amz-Trailer", "x-amz-checksum-crc32")
	default:
		t.Fatalf("unknown mode %q", mode)
	}
	if mode == sentStreaming || mode == sentTrailer {
		req.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(len(data)))
		req.Header.Set("Content-Encoding", "aws-chunked")
	}
	req.Header.Set("X-Amz-Content-Sha256", payload)
	signer := v4.NewSigner()
	if err := signer.SignHTTP(ctx, creds, req, payload, "s3", "us-east-1", now); err != nil {
		t.Fatal(err)
	}
	switch mode {
	case sentStreaming:
		body = streamingBody(t, creds, req.Header.Get("Authorization"), data, now)
	case sentTrailer:
		var b bytes.Buffer
		for off := 0; off < len(data); off += awsChunk {
			p := data[off:min(off+awsChunk, len(data))]
			fmt.Fprintf(&b, "%x\r\n", len(p))
			b.Write(p)
			b.WriteString("\r\n")
		}
		fmt.Fprintf(&b, "0\r\nx-amz-checksum-crc32:%s\r\n\r\n", crc32b64(data))
		body = b.Bytes()
	}
	if mode == sentUnsized {
		// A reader of unknown length: the client sends it with chunked transfer encoding.
		req.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body)))
		req.ContentLength = -1
	} else {
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
		if len(body) == 0 {
			req.Body = http.NoBody // sent with Content-Length: 0 (else chunked)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("PUT %s (%s, %d bytes, %q): %v", pathQuery, mode, len(data), hdr, err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		var e struct{ Code string }
		if err := xml.Unmarshal(rb, &e); err != nil {
			t.Fatalf("PUT %s (%s, %q): %s with a body that is not an S3 error: %q", pathQuery, mode, hdr, resp.Status, rb)
		}
		code = e.Code
	}
	return resp.StatusCode, code, resp.Header.Get("ETag")
}

// streamingBody encodes data as an aws-chunked body whose chunks are signed in a chain from
// the seed signature of auth (the AWS SDK's stream signer).
func streamingBody(t testing.TB, creds aws.Credentials, auth string, data []byte, now time.Time) []byte {
	t.Helper()
	seed, err := hex.DecodeString(auth[strings.LastIndex(auth, "=")+1:])
	if err != nil {
		t.Fatal(err)
	}
	ss := v4.NewStreamSigner(creds, "s3", "us-east-1", seed)
	var b bytes.Buffer
	for off := 0; ; off += awsChunk {
		p := data[min(off, len(data)):min(off+awsChunk, len(data))]
		sig, err := ss.GetSignature(context.Background(), nil, p, now)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%x;chunk-signature=%x\r\n", len(p), sig)
		b.Write(p)
		b.WriteString("\r\n")
		if len(p) == 0 {
			return b.Bytes()
		}
	}
}

// httpStatus is the HTTP status of an SDK error (0 if it has none).
func httpStatus(err error) int {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// crc32b64 is the x-amz-checksum-crc32 of b.
func crc32b64(b []byte) string {
	crc := crc32.ChecksumIEEE(b)
	return base64.StdEncoding.EncodeToString([]byte{byte(crc >> 24), byte(crc >> 16), byte(crc >> 8), byte(crc)})
}

func md5b64(b []byte) string {
	s := md5.Sum(b)
	return base64.StdEncoding.EncodeToString(s[:])
}

// The Content-MD5 values that are not an MD5 in base64.
var malformedMD5 = []string{"not base64!", base64.StdEncoding.EncodeToString(make([]byte, 15)), ""}

// md5Sizes are the body sizes of the Content-MD5 tests against a gateway with 1 MiB chunks
// that spills chunks above 256 KiB: an empty body (never read: readers stop at its length), a
// body held in memory, one received into a temporary file, and one stored as three chunk
// blobs (two full, spilled).
var md5Sizes = []struct {
	name string
	n    int
}{{"empty", 0}, {"memory", 1000}, {"spilled", 600 << 10}, {"chunks", 2<<20 + 300<<10}}

// TestS3ContentMD5: the gateway checks every body against its Content-MD5, whatever its
// size and however it is sent (a length, chunked transfer encoding, aws-chunked signed or
// with a trailer), as S3 does: a body that does not match is refused with 400 BadDigest and
// nothing is stored (the key stays missing, or keeps its object; the wallet has no more blob
// objects than before); a value that is not an MD5 is refused with 400 InvalidDigest; a body
// that matches is stored with its MD5 as ETag. PutObject and UploadPart.
func TestS3ContentMD5(t *testing.T) {
	n := startNetEpochs(t, 4, 40, 0, []string{"--spill-above", "256", "--chunk-size", "1"})
	info := n.Info()
	ctx := context.Background()
	c := sdk(info.S3, info.S3AccessKey, info.S3SecretKey)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("md5")}); err != nil {
		t.Fatal(err)
	}
	blobs := func() int { return len(walletBlobs(t, info)) }
	refused := func(what string, status int, code, wantCode string) {
		t.Helper()
		if status != http.StatusBadRequest || code != wantCode {
			t.Errorf("%s: status %d %q, want 400 %s", what, status, code, wantCode)
		}
	}

	for i, size := range md5Sizes {
		for j, mode := range []string{sentSigned, sentUnsigned, sentUnsized, sentStreaming, sentTrailer} {
			t.Run("PutObject/"+mode+"/"+size.name, func(t *testing.T) {
				key := "put-" + mode + "-" + size.name
				data := randomBytes(uint64(100+10*i+j), size.n)
				other := randomBytes(uint64(500+10*i+j), max(size.n, 1000))
				before := blobs()

				// A wrong Content-MD5 on a new key: refused, the key stays missing.
				st, code, _ := sendBody(t, info, "/md5/"+key, mode, data, map[string]string{"Content-MD5": md5b64(other)})
				refused("a wrong Content-MD5", st, code, "BadDigest")
				if _, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("md5"), Key: aws.String(key)}); errCode(err) != "NoSuchKey" {
					t.Errorf("GET after a refused PUT: %v, want NoSuchKey", err)
				}
				if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("md5"), Key: aws.String(key)}); httpStatus(err) != http.StatusNotFound {
					t.Errorf("HEAD after a refused PUT: %v, want 404", err)
				}
				if after := blobs(); after != before {
					t.Errorf("a refused PUT left %d blob objects, %d before", after, before)
				}

				// The right one: stored, its MD5 is its ETag.
				st, code, etag := sendBody(t, info, "/md5/"+key, mode, data, map[string]string{"Content-MD5": md5b64(data)})
				if st != http.StatusOK || etag != md5q(data) {
					t.Fatalf("the right Content-MD5: status %d %q, ETag %s, want 200 and %s", st, code, etag, md5q(data))
				}
				got, g := get(t, c, "md5", key, "")
				mustEqual(t, key, got, data)
				if aws.ToString(g.ETag) != md5q(data) {
					t.Errorf("GET: ETag %s, want %s", aws.ToString(g.ETag), md5q(data))
				}
				stored := blobs()

				// A wrong one over the object: refused, the object stays.
				st, code, _ = sendBody(t, info, "/md5/"+key, mode, other, map[string]string{"Content-MD5": md5b64(data)})
				refused("a wrong Content-MD5 over an object", st, code, "BadDigest")
				// Not an MD5: refused before the body is stored.
				for _, bad := range malformedMD5 {
					st, code, _ := sendBody(t, info, "/md5/"+key, mode, other, map[string]string{"Content-MD5": bad})
					refused(fmt.Sprintf("Content-MD5 %q", bad), st, code, "InvalidDigest")
				}
				got, g = get(t, c, "md5", key, "")
				mustEqual(t, key+" after refused overwrites", got, data)
				if aws.ToString(g.ETag) != md5q(data) {
					t.Errorf("GET after refused overwrites: ETag %s, want %s", aws.ToString(g.ETag), md5q(data))
				}
				if after := blobs(); after != stored {
					t.Errorf("refused overwrites left %d blob objects, %d before", after, stored)
				}
			})
		}
	}

	// With an x-amz-checksum-crc32 header too (checked by the gateway at the end of the body,
	// where the S3 library checks Content-MD5).
	for i, size := range md5Sizes {
		t.Run("PutObject/checksum-header/"+size.name, func(t *testing.T) {
			key := "crc-" + size.name
			data := randomBytes(uint64(700+i), size.n)
			other := randomBytes(uint64(800+i), max(size.n, 1000))
			before := blobs()
			for _, h := range []map[string]string{
				{"X-Amz-Checksum-Crc32": crc32b64(data)},
				{"X-Amz-Checksum-Crc32": crc32b64(data), "Content-MD5": md5b64(other)},
				{"X-Amz-Checksum-Crc32": crc32b64(other), "Content-MD5": md5b64(data)},
			} {
				st, code, _ := sendBody(t, info, "/md5/"+key, sentSigned, other, h)
				refused(fmt.Sprintf("headers %q", h), st, code, "BadDigest")
			}
			if _, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("md5"), Key: aws.String(key)}); errCode(err) != "NoSuchKey" {
				t.Errorf("GET after refused PUTs: %v, want NoSuchKey", err)
			}
			if after := blobs(); after != before {
				t.Errorf("refused PUTs left %d blob objects, %d before", after, before)
			}
			st, code, etag := sendBody(t, info, "/md5/"+key, sentSigned, data, map[string]string{"X-Amz-Checksum-Crc32": crc32b64(data), "Content-MD5": md5b64(data)})
			if st != http.StatusOK || etag != md5q(data) {
				t.Fatalf("the right checksums: status %d %q, ETag %s, want 200 and %s", st, code, etag, md5q(data))
			}
			got, _ := get(t, c, "md5", key, "")
			mustEqual(t, key, got, data)
			// The checksum is kept with the object, as S3 keeps it.
			h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("md5"), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
			if err != nil || aws.ToString(h.ChecksumCRC32) != crc32b64(data) {
				t.Fatalf("HEAD with checksums: %v, CRC32 %q, want %q", err, aws.ToString(h.ChecksumCRC32), crc32b64(data))
			}
		})
	}

	for i, size := range md5Sizes {
		// UploadPart needs a length: no chunked transfer encoding.
		for j, mode := range []string{sentSigned, sentUnsigned, sentStreaming, sentTrailer} {
			t.Run("UploadPart/"+mode+"/"+size.name, func(t *testing.T) {
				key := "part-" + mode + "-" + size.name
				data := randomBytes(uint64(1000+10*i+j), size.n)
				other := randomBytes(uint64(1500+10*i+j), max(size.n, 1000))
				mp, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("md5"), Key: aws.String(key)})
				if err != nil {
					t.Fatal(err)
				}
				part1 := fmt.Sprintf("/md5/%s?partNumber=1&uploadId=%s", key, aws.ToString(mp.UploadId))
				before := blobs()

				// A wrong Content-MD5: refused, nothing stored, the part does not exist.
				st, code, _ := sendBody(t, info, part1, mode, data, map[string]string{"Content-MD5": md5b64(other)})
				refused("a wrong Content-MD5", st, code, "BadDigest")
				if after := blobs(); after != before {
					t.Errorf("a refused part left %d blob objects, %d before", after, before)
				}
				if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("md5"), Key: aws.String(key),
					UploadId: mp.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{
						{ETag: aws.String(md5q(data)), PartNumber: aws.Int32(1)}}}}); err == nil {
					t.Error("an upload completed with a refused part")
				}

				// The right one: its MD5 is its ETag.
				st, code, etag := sendBody(t, info, part1, mode, data, map[string]string{"Content-MD5": md5b64(data)})
				if st != http.StatusOK || etag != md5q(data) {
					t.Fatalf("the right Content-MD5: status %d %q, ETag %s, want 200 and %s", st, code, etag, md5q(data))
				}
				stored := blobs()

				// A wrong one for the same part number: refused, the part stays.
				st, code, _ = sendBody(t, info, part1, mode, other, map[string]string{"Content-MD5": md5b64(data)})
				refused("a wrong Content-MD5 over a part", st, code, "BadDigest")
				for _, bad := range malformedMD5 {
					st, code, _ := sendBody(t, info, part1, mode, other, map[string]string{"Content-MD5": bad})
					refused(fmt.Sprintf("Content-MD5 %q", bad), st, code, "InvalidDigest")
				}
				if after := blobs(); after != stored {
					t.Errorf("refused parts left %d blob objects, %d before", after, stored)
				}
				completeOnePart(t, c, key, mp.UploadId, data)
			})
		}
	}

	// UploadPart with an x-amz-checksum-crc32 header (which the S3 library checks only on
	// PutObject): refused if it does not match, or if it is not a CRC32.
	for i, size := range md5Sizes {
		t.Run("UploadPart/checksum-header/"+size.name, func(t *testing.T) {
			key := "part-crc-" + size.name
			data := randomBytes(uint64(1700+i), size.n)
			other := randomBytes(uint64(1800+i), max(size.n, 1000))
			mp, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("md5"), Key: aws.String(key)})
			if err != nil {
				t.Fatal(err)
			}
			part1 := fmt.Sprintf("/md5/%s?partNumber=1&uploadId=%s", key, aws.ToString(mp.UploadId))
			before := blobs()
			for _, h := range []map[string]string{
				{"X-Amz-Checksum-Crc32": crc32b64(data)},
				{"X-Amz-Checksum-Crc32": crc32b64(data), "Content-MD5": md5b64(other)},
				{"X-Amz-Checksum-Crc32": crc32b64(other), "Content-MD5": md5b64(data)},
			} {
				st, code, _ := sendBody(t, info, part1, sentSigned, other, h)
				refused(fmt.Sprintf("headers %q", h), st, code, "BadDigest")
			}
			for _, h := range []map[string]string{
				{"X-Amz-Checksum-Crc32": "not base64!"},
				{"X-Amz-Checksum-Crc32": md5b64(other)},
				{"X-Amz-Checksum-Crc33": crc32b64(other)},
				{"X-Amz-Checksum-Crc32": crc32b64(other), "X-Amz-Checksum-Sha1": md5b64(other)},
			} {
				st, code, _ := sendBody(t, info, part1, sentSigned, other, h)
				refused(fmt.Sprintf("headers %q", h), st, code, "InvalidRequest")
			}
			if after := blobs(); after != before {
				t.Errorf("refused parts left %d blob objects, %d before", after, before)
			}
			st, code, etag := sendBody(t, info, part1, sentSigned, data, map[string]string{"X-Amz-Checksum-Crc32": crc32b64(data), "Content-MD5": md5b64(data)})
			if st != http.StatusOK || etag != md5q(data) {
				t.Fatalf("the right checksums: status %d %q, ETag %s, want 200 and %s", st, code, etag, md5q(data))
			}
			completeOnePart(t, c, key, mp.UploadId, data)
		})
	}
}

// completeOnePart completes the multipart upload of key in bucket md5 with its part 1, which
// holds data, and checks that the object reads back as data.
func completeOnePart(t *testing.T, c *s3.Client, key string, uploadID *string, data []byte) {
	t.Helper()
	if _, err := c.CompleteMultipartUpload(context.Background(), &s3.CompleteMultipartUploadInput{Bucket: aws.String("md5"), Key: aws.String(key),
		UploadId: uploadID, MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{
			{ETag: aws.String(md5q(data)), PartNumber: aws.Int32(1)}}}}); err != nil {
		t.Fatalf("completing with the part: %v", err)
	}
	got, _ := get(t, c, "md5", key, "")
	mustEqual(t, key, got, data)
}
