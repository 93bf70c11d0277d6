package s3gw

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

var testCreds = aws.Credentials{AccessKeyID: "AKTEST", SecretAccessKey: "secret"}

// authOnly is a gateway that only authenticates: its next handler reads the body.
func authOnly(t *testing.T) (*Gateway, http.Handler, *[]byte, *error) {
	g := &Gateway{keys: map[string]*accessKey{testCreds.AccessKeyID: {id: testCreds.AccessKeyID, secret: testCreds.SecretAccessKey, w: &wallet{}}}}
	var got []byte
	var rerr error
	h := g.authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if identityFrom(r.Context()) == nil {
			t.Error("no identity")
		}
		// Read as the S3 library does: exactly Content-Length bytes, never asking for EOF.
		n, err := strconv.ParseInt(r.Header.Get("Content-Length"), 10, 64)
		if err != nil {
			rerr = err
			return
		}
		got = make([]byte, n)
		_, rerr = io.ReadFull(r.Body, got)
	}))
	return g, h, &got, &rerr
}

// signedChunked builds a STREAMING-AWS4-HMAC-SHA256-PAYLOAD request of data in chunks of
// size chunk, signed by the AWS SDK's signers; tamper may change the encoded body.
func signedChunked(t *testing.T, data []byte, chunk int, tamper func([]byte) []byte) *http.Request {
	t.Helper()
	return signedChunkedTo(t, "http://127.0.0.1/bkt/key", data, chunk, tamper)
}

// signedChunkedTo is signedChunked to url.
func signedChunkedTo(t *testing.T, url string, data []byte, chunk int, tamper func([]byte) []byte) *http.Request {
	t.Helper()
	now := time.Now()
	req := httptest.NewRequest(http.MethodPut, url, nil)
	req.Header.Set("X-Amz-Content-Sha256", streamingSigned)
	req.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(len(data)))
	req.Header.Set("Content-Encoding", "aws-chunked")
	if err := v4.NewSigner().SignHTTP(context.Background(), testCreds, req, streamingSigned, "s3", "us-east-1", now); err != nil {
		t.Fatal(err)
	}
	auth := req.Header.Get("Authorization")
	seed, err := hex.DecodeString(auth[strings.LastIndex(auth, "=")+1:])
	if err != nil {
		t.Fatal(err)
	}
	ss := v4.NewStreamSigner(testCreds, "s3", "us-east-1", seed)
	var body bytes.Buffer
	for off := 0; ; off += chunk {
		p := data[min(off, len(data)):min(off+chunk, len(data))]
		sig, err := ss.GetSignature(context.Background(), nil, p, now)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&body, "%x;chunk-signature=%x\r\n", len(p), sig)
		body.Write(p)
		body.WriteString("\r\n")
		if len(p) == 0 {
			break
		}
	}
	b := body.Bytes()
	if tamper != nil {
		b = tamper(b)
	}
	req.Body = io.NopCloser(bytes.NewReader(b))
	req.ContentLength = int64(len(b))
	return req
}

func TestSignedChunked(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 5000)
	for _, chunk := range []int{1 << 10, 64 << 10, 1 << 20} {
		_, h, got, rerr := authOnly(t)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, signedChunked(t, data, chunk, nil))
		if rec.Code != http.StatusOK || *rerr != nil || !bytes.Equal(*got, data) {
			t.Fatalf("chunks of %d: status %d, read error %v, %d bytes", chunk, rec.Code, *rerr, len(*got))
		}
	}
	for name, tamper := range map[string]func([]byte) []byte{
		"a flipped data byte": func(b []byte) []byte { b[len(b)/2] ^= 1; return b },
		"the last data byte flipped": func(b []byte) []byte {
			i := bytes.LastIndex(b, []byte("\r\n0;chunk-signature="))
			b[i-1] ^= 1
			return b
		},
		"a bad final signature": func(b []byte) []byte { b[len(b)-5] ^= 1; return b },
		"the final chunk missing": func(b []byte) []byte {
			return b[:bytes.LastIndex(b, []byte("0;chunk-signature="))]
		},
		"chunks reordered": func(b []byte) []byte {
			first := bytes.Index(b, []byte("\r\n400;"))
			return append(append([]byte{}, b[first+2:]...), b[:first+2]...)
		},
	} {
		_, h, _, rerr := authOnly(t)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, signedChunked(t, data, 1<<10, tamper))
		if *rerr == nil {
			t.Errorf("%s: the body was read without error", name)
		}
	}
}

// TestEmptyChunkedBody: an empty aws-chunked body, which readers never read (they stop at
// its length), still has its final chunk's signature and its trailer checked.
func TestEmptyChunkedBody(t *testing.T) {
	crc0 := "x-amz-checksum-crc32:AAAAAA==" // the CRC32 of nothing
	for name, tc := range map[string]struct {
		req  func() *http.Request
		code int
	}{
		"signed": {func() *http.Request { return signedChunked(t, nil, 1<<10, nil) }, http.StatusOK},
		"a bad final signature": {func() *http.Request {
			return signedChunked(t, nil, 1<<10, func(b []byte) []byte { b[len(b)-5] ^= 1; return b })
		}, http.StatusBadRequest},
		"no final chunk": {func() *http.Request { return signedChunked(t, nil, 1<<10, func([]byte) []byte { return nil }) }, http.StatusBadRequest},
		"a data chunk": {func() *http.Request {
			return signedChunked(t, nil, 1<<10, func(b []byte) []byte {
				return append([]byte("1;chunk-signature="+strings.Repeat("0", 64)+"\r\nx\r\n"), b...)
			})
		}, http.StatusBadRequest},
		"trailer":             {func() *http.Request { return unsignedTrailer(t, nil, crc0) }, http.StatusOK},
		"a wrong trailer":     {func() *http.Request { return unsignedTrailer(t, nil, "x-amz-checksum-crc32:AAAAAB==") }, http.StatusBadRequest},
		"a malformed trailer": {func() *http.Request { return unsignedTrailer(t, nil, "garbage") }, http.StatusBadRequest},
	} {
		_, h, got, rerr := authOnly(t)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, tc.req())
		if rec.Code != tc.code || *rerr != nil || len(*got) != 0 {
			t.Errorf("%s: status %d, want %d (read error %v, %d bytes)", name, rec.Code, tc.code, *rerr, len(*got))
		}
	}
}

func unsignedTrailer(t *testing.T, data []byte, trailer string) *http.Request {
	t.Helper()
	req := httptest.NewRequest(http.MethodPut, "http://127.0.0.1/bkt/key", nil)
	req.Header.Set("X-Amz-Content-Sha256", streamingUnsigned)
	req.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(len(data)))
	req.Header.Set("X-Amz-Trailer", "x-amz-checksum-crc32")
	req.Header.Set("Content-Encoding", "aws-chunked")
	if err := v4.NewSigner().SignHTTP(context.Background(), testCreds, req, streamingUnsigned, "s3", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	for off := 0; off < len(data); off += 1000 {
		p := data[off:min(off+1000, len(data))]
		fmt.Fprintf(&body, "%x\r\n%s\r\n", len(p), p)
	}
	fmt.Fprintf(&body, "0\r\n%s\r\n\r\n", trailer)
	req.Body = io.NopCloser(&body)
	return req
}

func TestUnsignedTrailer(t *testing.T) {
	data := bytes.Repeat([]byte("floe"), 1000)
	sum := crc32.ChecksumIEEE(data)
	good := "x-amz-checksum-crc32:" + base64.StdEncoding.EncodeToString([]byte{byte(sum >> 24), byte(sum >> 16), byte(sum >> 8), byte(sum)})
	_, h, got, rerr := authOnly(t)
	h.ServeHTTP(httptest.NewRecorder(), unsignedTrailer(t, data, good))
	if *rerr != nil || !bytes.Equal(*got, data) {
		t.Fatalf("good trailer: %v, %d bytes", *rerr, len(*got))
	}
	for _, bad := range []string{"x-amz-checksum-crc32:AAAAAA==", "x-amz-checksum-sha1:AAAAAA==", "garbage"} {
		_, h, _, rerr := authOnly(t)
		h.ServeHTTP(httptest.NewRecorder(), unsignedTrailer(t, data, bad))
		if *rerr == nil {
			t.Errorf("trailer %q accepted", bad)
		}
	}
}

func TestAuthRefuses(t *testing.T) {
	_, h, _, _ := authOnly(t)
	for name, mk := range map[string]func() *http.Request{
		"anonymous": func() *http.Request { return httptest.NewRequest(http.MethodGet, "http://127.0.0.1/", nil) },
		"wrong secret": func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/", nil)
			v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKTEST", SecretAccessKey: "nope"}, r, emptySHA256, "s3", "us-east-1", time.Now())
			return r
		},
		"old signature": func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/", nil)
			v4.NewSigner().SignHTTP(context.Background(), testCreds, r, emptySHA256, "s3", "us-east-1", time.Now().Add(-time.Hour))
			return r
		},
		"an empty body signed as another": func() *http.Request {
			r := httptest.NewRequest(http.MethodPut, "http://127.0.0.1/bkt/key", nil)
			sum := sha256.Sum256([]byte("the body that was signed"))
			r.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:]))
			v4.NewSigner().SignHTTP(context.Background(), testCreds, r, hex.EncodeToString(sum[:]), "s3", "us-east-1", time.Now())
			return r
		},
		"bad epochs header": func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/", nil)
			r.Header.Set(HeaderEpochs, "0")
			v4.NewSigner().SignHTTP(context.Background(), testCreds, r, emptySHA256, "s3", "us-east-1", time.Now())
			return r
		},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, mk())
		if rec.Code < 400 {
			t.Errorf("%s: status %d", name, rec.Code)
		}
	}
}

// FuzzChunkDecoder feeds arbitrary bodies to the aws-chunked decoder of unsigned-trailer
// bodies: it must not panic, nor return more than the declared length.
func FuzzChunkDecoder(f *testing.F) {
	f.Add([]byte("5\r\nhello\r\n0\r\n\r\n"), 5)
	f.Add([]byte("3\r\nabc\r\n2\r\nde\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"), 5)
	f.Add([]byte("ffffffffffffffff\r\n"), 3)
	f.Fuzz(func(t *testing.T, body []byte, n int) {
		if n < 0 || n > 1<<20 {
			return
		}
		d := &chunkDecoder{br: bufioReader(body), body: io.NopCloser(nil), left: int64(n), trailer: true}
		out, _ := io.ReadAll(io.LimitReader(d, int64(n)+10))
		if len(out) > n {
			t.Fatalf("%d bytes decoded, %d declared", len(out), n)
		}
	})
}

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReaderSize(bytes.NewReader(b), 4096) }
