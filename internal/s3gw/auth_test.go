package s3gw

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
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
