package s3gw

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/rclone/gofakes3"
	"github.com/rclone/gofakes3/s3mem"
)

// TestRefusedBodyLeavesNoRequest: a request whose body the gateway wraps (a signed SHA-256,
// aws-chunked) and that is refused before its body is read, as the S3 library refuses a
// malformed Content-MD5 (closing the body, then answering), must not leave the rest of its
// body on the connection to be read as the next request: the server closes the connection,
// and the client's next request gets its own answer. On a real server on 127.0.0.1.
func TestRefusedBodyLeavesNoRequest(t *testing.T) {
	g := &Gateway{keys: map[string]*accessKey{testCreds.AccessKeyID: {id: testCreds.AccessKeyID, secret: testCreds.SecretAccessKey, w: &wallet{}}}}
	srv := httptest.NewServer(g.authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("refuse") {
			r.Body.Close()
			writeError(w, r, http.StatusBadRequest, "InvalidDigest", "refused before the body is read")
			return
		}
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			writeError(w, r, http.StatusBadRequest, "BadDigest", err.Error())
			return
		}
		io.WriteString(w, strings.Repeat("x", int(n%10)))
	})))
	defer srv.Close()
	hc := srv.Client()
	// Bodies past what the server discards on its own (256 KiB), of random-looking bytes: one
	// holding an HTTP request, which must not be served.
	inner := []byte("GET /smuggled HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	bodies := map[string][]byte{
		"plain":    bytes.Repeat([]byte("0123456789abcdef"), 40<<10),
		"smuggled": append(bytes.Repeat([]byte("z"), 300<<10-len(inner)), bytes.Repeat(inner, 100)...),
	}
	signed := func(query string, body []byte) *http.Request {
		req, err := http.NewRequest(http.MethodPut, srv.URL+"/bkt/key"+query, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		s := sha256.Sum256(body)
		sum := hex.EncodeToString(s[:])
		req.Header.Set("X-Amz-Content-Sha256", sum)
		if err := v4.NewSigner().SignHTTP(context.Background(), testCreds, req, sum, "s3", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
		return req
	}
	do := func(req *http.Request) (int, string) {
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", req.Method, req.URL, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	chunked := func(query string, body []byte) *http.Request {
		req := signedChunkedTo(t, srv.URL+"/bkt/key"+query, body, 64<<10, nil)
		req.RequestURI = "" // a client's request
		return req
	}
	for name, body := range bodies {
		for kind, mk := range map[string]func(string, []byte) *http.Request{"signed": signed, "aws-chunked": chunked} {
			for i := range 3 {
				code, msg := do(mk("?refuse", body))
				if code != http.StatusBadRequest || !strings.Contains(msg, "InvalidDigest") {
					t.Fatalf("%s %s, refused request %d: %d %q", kind, name, i, code, msg)
				}
				if code, msg := do(mk("", []byte("hello"))); code != http.StatusOK || msg != "xxxxx" {
					t.Fatalf("%s %s, the request after refused request %d: %d %q", kind, name, i, code, msg)
				}
			}
		}
	}
}

// TestChecksumHeader: PutObject and UploadPart bodies are checked against their
// x-amz-checksum-* header (the S3 library checks none on UploadPart): a body that matches is
// read whole, one that does not fails the read that reaches its end with BadDigest (an empty
// one is refused at once), and a header that is not a checksum S3 has is refused before the
// body is read. Other requests (copies, sub-resources) are left to the library.
func TestChecksumHeader(t *testing.T) {
	data := bytes.Repeat([]byte("part of an upload "), 3000)
	crc := func(b []byte) string {
		s := crc32.ChecksumIEEE(b)
		return base64.StdEncoding.EncodeToString([]byte{byte(s >> 24), byte(s >> 16), byte(s >> 8), byte(s)})
	}
	sha1b64 := func(b []byte) string { s := sha1.Sum(b); return base64.StdEncoding.EncodeToString(s[:]) }
	send := func(target string, body []byte, hdr map[string]string) (int, []byte, error) {
		_, h, got, rerr := authOnly(t)
		req := httptest.NewRequest(http.MethodPut, "http://127.0.0.1"+target, bytes.NewReader(body))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		req.Header.Set("Content-Length", strconv.Itoa(len(body))) // as a server's request has it
		s := sha256.Sum256(body)
		sum := hex.EncodeToString(s[:])
		req.Header.Set("X-Amz-Content-Sha256", sum)
		if err := v4.NewSigner().SignHTTP(context.Background(), testCreds, req, sum, "s3", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, *got, *rerr
	}
	const part, put = "/bkt/key?partNumber=1&uploadId=abc", "/bkt/a/key"
	for _, tc := range []struct {
		name   string
		target string
		body   []byte
		hdr    map[string]string
		status int    // of the gateway's own answer (200: handed on)
		code   string // in its answer or the read's error ("": read whole)
	}{
		{"crc32", part, data, map[string]string{"X-Amz-Checksum-Crc32": crc(data)}, 200, ""},
		{"sha1", part, data, map[string]string{"x-amz-checksum-sha1": sha1b64(data)}, 200, ""},
		{"none", part, data, nil, 200, ""},
		{"wrong crc32", part, data, map[string]string{"X-Amz-Checksum-Crc32": crc(data[1:])}, 200, "BadDigest"},
		{"wrong sha1", part, data, map[string]string{"X-Amz-Checksum-Sha1": sha1b64(nil)}, 200, "BadDigest"},
		{"empty", part, nil, map[string]string{"X-Amz-Checksum-Crc32": crc(nil)}, 200, ""},
		{"empty, wrong", part, nil, map[string]string{"X-Amz-Checksum-Crc32": crc(data)}, 400, "BadDigest"},
		{"not base64", part, data, map[string]string{"X-Amz-Checksum-Crc32": "!!"}, 400, "InvalidRequest"},
		{"too long", part, data, map[string]string{"X-Amz-Checksum-Crc32": sha1b64(data)}, 400, "InvalidRequest"},
		{"unknown", part, data, map[string]string{"X-Amz-Checksum-Md4": crc(data)}, 400, "InvalidRequest"},
		{"two", part, data, map[string]string{"X-Amz-Checksum-Crc32": crc(data), "X-Amz-Checksum-Sha1": sha1b64(data)}, 400, "InvalidRequest"},
		{"the type only", part, data, map[string]string{"X-Amz-Checksum-Type": "COMPOSITE"}, 200, ""},
		{"the SDK's algorithm", part, data, map[string]string{"X-Amz-Checksum-Crc32": crc(data), "X-Amz-Sdk-Checksum-Algorithm": "CRC32"}, 200, ""},
		{"another SDK algorithm", part, data, map[string]string{"X-Amz-Checksum-Crc32": crc(data), "X-Amz-Sdk-Checksum-Algorithm": "SHA1"}, 400, "InvalidRequest"},
		{"PutObject", put, data, map[string]string{"X-Amz-Checksum-Crc32": crc(data)}, 200, ""},
		{"PutObject, x-id", put + "?x-id=PutObject", data, map[string]string{"X-Amz-Checksum-Crc32": crc(data)}, 200, ""},
		{"PutObject, wrong", put, data, map[string]string{"X-Amz-Checksum-Crc32": crc(data[1:])}, 200, "BadDigest"},
		{"PutObject, empty, wrong", put, nil, map[string]string{"X-Amz-Checksum-Sha1": sha1b64(data)}, 400, "BadDigest"},
		{"PutObject, malformed", put, data, map[string]string{"X-Amz-Checksum-Crc32": "AAAA"}, 400, "InvalidRequest"},
		{"UploadPartCopy", part, data, map[string]string{"X-Amz-Checksum-Crc32": crc(data[1:]), "X-Amz-Copy-Source": "bkt/other"}, 200, ""},
		{"CopyObject", put, data, map[string]string{"X-Amz-Checksum-Crc32": crc(data[1:]), "X-Amz-Copy-Source": "bkt/other"}, 200, ""},
		{"PutObjectTagging", put + "?tagging", data, map[string]string{"X-Amz-Checksum-Crc32": crc(data[1:])}, 200, ""},
		{"a bucket", "/bkt", data, map[string]string{"X-Amz-Checksum-Crc32": crc(data[1:])}, 200, ""},
	} {
		status, got, err := send(tc.target, tc.body, tc.hdr)
		var code string
		if err != nil {
			code = err.Error()
		}
		switch {
		case status != tc.status:
			t.Errorf("%s: status %d, want %d", tc.name, status, tc.status)
		case status == 200 && tc.code == "" && (err != nil || !bytes.Equal(got, tc.body)):
			t.Errorf("%s: %d bytes read, %v", tc.name, len(got), err)
		case status == 200 && tc.code != "" && !strings.Contains(code, tc.code):
			t.Errorf("%s: read error %v, want %s", tc.name, err, tc.code)
		}
	}
}

// FuzzRequestChecksum: any x-amz-checksum-* header is either refused or read as a checksum
// S3 has, of its size.
func FuzzRequestChecksum(f *testing.F) {
	f.Add("crc32", "AAAAAA==", "", "")
	f.Add("SHA256", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", "type", "COMPOSITE")
	f.Add("crc64nvme", "AAAAAAAAAAA=", "crc32c", "AAAAAA==")
	f.Fuzz(func(t *testing.T, name, value, name2, value2 string) {
		h := http.Header{}
		h.Add("X-Amz-Checksum-"+name, value)
		if name2 != "" {
			h.Add("x-amz-checksum-"+name2, value2)
		}
		h.Add("X-Amz-Sdk-Checksum-Algorithm", name2)
		alg, newHash, want, err := requestChecksum(h)
		if err != nil {
			if newHash != nil || want != nil {
				t.Fatal("a refused header came with a checksum")
			}
			return
		}
		if newHash == nil {
			if alg != "" || want != nil {
				t.Fatalf("no checksum, yet algorithm %q and %d bytes", alg, len(want))
			}
			return
		}
		if checksums[alg] == nil || len(want) != newHash().Size() {
			t.Fatalf("algorithm %q with a value of %d bytes", alg, len(want))
		}
	})
}

// probeBackend is the S3 library's in-memory backend, noting whether the body PutObject is
// given computes its own MD5 (bodyMD5), which the gateway takes as the ETag.
type probeBackend struct {
	gofakes3.Backend
	sawMD5 atomic.Bool
}

func (p *probeBackend) PutObject(ctx context.Context, bucket, key string, meta map[string]string, input io.Reader, size int64) (gofakes3.PutObjectResult, error) {
	_, ok := input.(bodyMD5)
	p.sawMD5.Store(ok)
	return p.Backend.PutObject(ctx, bucket, key, meta, input, size)
}

// TestPutChecksumKeepsMD5: through the S3 library (gofakes3 over its in-memory backend, on a
// real server on 127.0.0.1), a PutObject with an x-amz-checksum-* header hands its backend
// the library's MD5 reader, so that the gateway computes the body's MD5 once; the checksum
// is checked (a wrong one: 400 BadDigest, nothing stored) and sent back.
func TestPutChecksumKeepsMD5(t *testing.T) {
	g := &Gateway{keys: map[string]*accessKey{testCreds.AccessKeyID: {id: testCreds.AccessKeyID, secret: testCreds.SecretAccessKey, w: &wallet{}}}}
	probe := &probeBackend{Backend: s3mem.New()}
	if err := probe.CreateBucket(context.Background(), "bkt"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g.authenticate(gofakes3.New(probe).Server()))
	defer srv.Close()
	data := bytes.Repeat([]byte("checked once "), 10000)
	crc := func(b []byte) string {
		s := crc32.ChecksumIEEE(b)
		return base64.StdEncoding.EncodeToString([]byte{byte(s >> 24), byte(s >> 16), byte(s >> 8), byte(s)})
	}
	do := func(method, path string, body []byte, hdr map[string]string) *http.Response {
		req, err := http.NewRequest(method, srv.URL+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		s := sha256.Sum256(body)
		sum := hex.EncodeToString(s[:])
		req.Header.Set("X-Amz-Content-Sha256", sum)
		if err := v4.NewSigner().SignHTTP(context.Background(), testCreds, req, sum, "s3", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	resp := do(http.MethodPut, "/bkt/wrong?x-id=PutObject", data, map[string]string{"X-Amz-Checksum-Crc32": crc(data[1:])})
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a wrong checksum: %s", resp.Status)
	}
	if resp := do(http.MethodHead, "/bkt/wrong", nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("HEAD after a refused PUT: %s", resp.Status)
	}
	resp = do(http.MethodPut, "/bkt/right?x-id=PutObject", data, map[string]string{"X-Amz-Checksum-Crc32": crc(data)})
	sum := md5.Sum(data)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Amz-Checksum-Crc32") != crc(data) || resp.Header.Get("ETag") != `"`+hex.EncodeToString(sum[:])+`"` {
		t.Fatalf("the right checksum: %s, checksum %q, ETag %s", resp.Status, resp.Header.Get("X-Amz-Checksum-Crc32"), resp.Header.Get("ETag"))
	}
	if !probe.sawMD5.Load() {
		t.Fatal("the backend was not given the library's MD5 reader: the gateway would hash the body again")
	}
}
