package s3gw

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/rclone/gofakes3"
	"github.com/rclone/gofakes3/signature"
)

// HeaderEpochs sets how many epochs an object is stored for (PutObject, CopyObject,
// CreateMultipartUpload), or a bucket's default (CreateBucket).
const HeaderEpochs = "X-Floe-Epochs"

// identity is who sent a request: the access key (hence the wallet) whose signature it
// carries, with what the backend needs from the request beyond the library's arguments.
type identity struct {
	key    string
	w      *wallet
	epochs uint32 // HeaderEpochs, 0 if absent
	synced bool   // the read barrier has run

	mu   sync.Mutex
	etag string // an ETag the response must carry instead of the library's
}

func (id *identity) setETag(e string) {
	id.mu.Lock()
	id.etag = e
	id.mu.Unlock()
}

type identityKey struct{}

func identityFrom(ctx context.Context) *identity {
	id, _ := ctx.Value(identityKey{}).(*identity)
	return id
}

// authenticate verifies every request's AWS Signature Version 4 (Authorization header or
// presigned query) against the access keys, checks the signed payload hash of the body as
// it is read, decodes aws-chunked bodies verifying each chunk's signature or the trailing
// checksum, and hands the request on with its identity.
func (g *Gateway) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var key *accessKey
		code := signature.V4SignVerifyWithLookup(r, func(id string) (string, bool) {
			key = g.keys[id]
			if key == nil {
				return "", false
			}
			return key.secret, true
		})
		if code != signature.ErrNone {
			writeSigError(w, r, signature.GetAPIError(code))
			return
		}
		id := &identity{key: key.id, w: key.w}
		if v := r.Header.Get(HeaderEpochs); v != "" {
			e, err := strconv.ParseUint(v, 10, 32)
			if err != nil || e == 0 {
				writeError(w, r, http.StatusBadRequest, "InvalidArgument", HeaderEpochs+" must be a positive number of epochs")
				return
			}
			id.epochs = uint32(e)
		}
		// A copy of the request: the server's own keeps its body, by which it tells a body
		// left unread (a request refused early) and closes the connection instead of reading
		// the rest of that body as the next request.
		r = r.WithContext(context.WithValue(r.Context(), identityKey{}, id))
		if r.Body != nil && r.Body != http.NoBody {
			if err := g.wrapBody(r, key); err != nil {
				writeError(w, r, http.StatusBadRequest, err.code, err.msg)
				return
			}
		}
		ew := &etagWriter{ResponseWriter: w, id: id}
		next.ServeHTTP(ew, r)
		ew.fix() // a response without a body (HEAD) is written after the handler returns
	})
}

// bodyError is a request body the gateway refuses before reading it.
type bodyError struct{ code, msg string }

// wrapBody checks the payload the signature covers: a SHA-256 in X-Amz-Content-Sha256 is
// checked as the body is read (a mismatch fails the read, so nothing is stored); aws-chunked
// bodies are decoded here (see chunked.go) and handed on as plain bodies.
func (g *Gateway) wrapBody(r *http.Request, key *accessKey) *bodyError {
	sum := r.Header.Get("X-Amz-Content-Sha256")
	switch {
	case sum == "" || sum == "UNSIGNED-PAYLOAD":
		return nil
	case strings.HasPrefix(sum, "STREAMING-"):
		return g.decodeChunked(r, key, sum)
	}
	want, err := hex.DecodeString(sum)
	if err != nil || len(want) != sha256.Size {
		return &bodyError{"InvalidArgument", "X-Amz-Content-Sha256 is not a SHA-256"}
	}
	r.Body = &sha256Body{r: r.Body, h: sha256.New(), want: want, left: r.ContentLength}
	return nil
}

// sha256Body fails the read that reaches the end of a body whose SHA-256 is not the signed
// one. The end is its Content-Length (readers stop there without asking for io.EOF), or
// io.EOF when the length is unknown; the failing read returns no bytes, so that a reader
// that got all it asked for still sees the error.
type sha256Body struct {
	r    io.ReadCloser
	h    hash.Hash
	want []byte
	left int64 // -1: unknown
	err  error
}

// (S3 says XAmzContentSHA256Mismatch; the library maps only its own codes to statuses.)
var errSHA256Mismatch = gofakes3.ErrorMessage(gofakes3.ErrBadDigest, "the body does not match the signed x-amz-content-sha256")

func (b *sha256Body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.r.Read(p)
	b.h.Write(p[:n])
	if b.left >= 0 {
		b.left -= int64(n)
	}
	if (b.left == 0 || err == io.EOF) && !bytes.Equal(b.h.Sum(nil), b.want) {
		b.err = errSHA256Mismatch
		return 0, b.err
	}
	return n, err
}

func (b *sha256Body) Close() error { return b.r.Close() }

// etagWriter replaces the ETag header of a response with the identity's override.
type etagWriter struct {
	http.ResponseWriter
	id    *identity
	wrote bool
}

func (e *etagWriter) fix() {
	if e.wrote {
		return
	}
	e.wrote = true
	e.id.mu.Lock()
	etag := e.id.etag
	e.id.mu.Unlock()
	if etag != "" && e.Header().Get("ETag") != "" {
		e.Header().Set("ETag", etag)
	}
}

func (e *etagWriter) WriteHeader(code int) {
	e.fix()
	e.ResponseWriter.WriteHeader(code)
}

func (e *etagWriter) Write(p []byte) (int, error) {
	e.fix()
	return e.ResponseWriter.Write(p)
}

func (e *etagWriter) Flush() {
	if f, ok := e.ResponseWriter.(http.Flusher); ok {
		e.fix()
		f.Flush()
	}
}

func writeSigError(w http.ResponseWriter, r *http.Request, e signature.APIError) {
	writeError(w, r, e.HTTPStatusCode, e.Code, e.Description)
}

// writeError writes an S3 error response.
func writeError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	b, _ := xml.Marshal(struct {
		XMLName xml.Name `xml:"Error"`
		Code    string
		Message string
	}{Code: code, Message: msg})
	w.Write(append([]byte(xml.Header), b...))
}
