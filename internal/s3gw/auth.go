package s3gw

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
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

	// checksum is a PutObject's x-amz-checksum-* header (name, value), which the gateway
	// checks instead of the library: the backend stores it with the object, the response
	// carries it back.
	checksum [2]string

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
		} else if sum := r.Header.Get("X-Amz-Content-Sha256"); len(sum) == 2*sha256.Size && sum != emptySHA256 {
			// No body, yet the signature is for one (its bytes dropped on the way, say).
			writeError(w, r, http.StatusBadRequest, string(gofakes3.ErrBadDigest), "the body does not match the signed x-amz-content-sha256")
			return
		}
		switch {
		case isUploadPart(r):
			if _, _, err := checkChecksum(r); err != nil {
				writeError(w, r, http.StatusBadRequest, err.code, err.msg)
				return
			}
		case isPutObject(r):
			name, value, err := checkChecksum(r)
			if err != nil {
				writeError(w, r, http.StatusBadRequest, err.code, err.msg)
				return
			}
			if name != "" {
				// Hidden from the library: its own checker would wrap the reader that
				// computes the body's MD5 (the ETag), and the gateway would compute it
				// again (see bodyMD5).
				r.Header = r.Header.Clone()
				r.Header.Del(name)
				id.checksum = [2]string{name, value}
			}
		}
		ew := &etagWriter{ResponseWriter: w, id: id}
		next.ServeHTTP(ew, r)
		ew.fix(http.StatusOK) // a response without a body (HEAD) is written after the handler returns
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
	r.Body = &digestBody{r: r.Body, h: sha256.New(), want: want, left: r.ContentLength, mismatch: errSHA256Mismatch}
	return nil
}

// digestBody fails the read that reaches the end of a body whose digest (h) is not want. The
// end is its Content-Length (readers stop there without asking for io.EOF), or io.EOF when
// the length is unknown; the failing read returns no bytes, so that a reader that got all it
// asked for still sees the error.
type digestBody struct {
	r        io.ReadCloser
	h        hash.Hash
	want     []byte
	left     int64 // -1: unknown
	mismatch error // the error of a body that does not match
	err      error
}

// (S3 says XAmzContentSHA256Mismatch; the library maps only its own codes to statuses.)
var errSHA256Mismatch = gofakes3.ErrorMessage(gofakes3.ErrBadDigest, "the body does not match the signed x-amz-content-sha256")

func (b *digestBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.r.Read(p)
	b.h.Write(p[:n])
	if b.left >= 0 {
		b.left -= int64(n)
	}
	if (b.left == 0 || err == io.EOF) && !bytes.Equal(b.h.Sum(nil), b.want) {
		b.err = b.mismatch
		return 0, b.err
	}
	return n, err
}

func (b *digestBody) Close() error { return b.r.Close() }

// isUploadPart tells an UploadPart request (the S3 library's route: a PUT with an uploadId)
// with a body of its own (not UploadPartCopy).
func isUploadPart(r *http.Request) bool {
	return r.Method == http.MethodPut && r.URL.Query().Get("uploadId") != "" && r.Header.Get("X-Amz-Copy-Source") == ""
}

// isPutObject tells a PutObject request (path-style, as the gateway serves): a PUT of a key
// with no sub-resource in its query (only the SDKs' x-id and a presigned URL's X-Amz-*
// parameters), not a copy.
func isPutObject(r *http.Request) bool {
	if r.Method != http.MethodPut || r.Header.Get("X-Amz-Copy-Source") != "" {
		return false
	}
	_, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if key == "" {
		return false
	}
	for k := range r.URL.Query() {
		if k != "x-id" && !strings.HasPrefix(strings.ToLower(k), "x-amz-") {
			return false
		}
	}
	return true
}

// checkChecksum checks a body against the request's x-amz-checksum-* header, as S3 does:
// the body is wrapped to fail the read that reaches its end if it does not match (an empty
// body is checked at once). A header that names no algorithm S3 has, or whose value is not a
// checksum of it, is refused. It returns the header's name and value (base64), if any.
func checkChecksum(r *http.Request) (name, value string, _ *bodyError) {
	alg, newHash, want, berr := requestChecksum(r.Header)
	if berr != nil || newHash == nil {
		return "", "", berr
	}
	name, value = http.CanonicalHeaderKey("X-Amz-Checksum-"+alg), base64.StdEncoding.EncodeToString(want)
	msg := "The " + strings.ToUpper(alg) + " you specified did not match the calculated checksum."
	if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		// Readers stop at the length: an empty body is never read.
		if !bytes.Equal(newHash().Sum(nil), want) {
			return "", "", &bodyError{string(gofakes3.ErrBadDigest), msg}
		}
		return name, value, nil
	}
	r.Body = &digestBody{r: r.Body, h: newHash(), want: want, left: r.ContentLength, mismatch: gofakes3.ErrorMessage(gofakes3.ErrBadDigest, msg)}
	return name, value, nil
}

// requestChecksum reads the x-amz-checksum-<algorithm> header of a request: the algorithm,
// its hash and the value (base64 in the header); no hash if there is no such header.
func requestChecksum(h http.Header) (alg string, newHash func() hash.Hash, want []byte, err *bodyError) {
	const prefix = "X-Amz-Checksum-"
	var value string
	for k, v := range h {
		name, ok := strings.CutPrefix(http.CanonicalHeaderKey(k), prefix)
		if !ok || len(v) == 0 {
			continue
		}
		name = strings.ToLower(name)
		if name == "type" || name == "mode" || name == "algorithm" {
			continue
		}
		if alg != "" {
			return "", nil, nil, &bodyError{string(gofakes3.ErrInvalidRequest), "more than one x-amz-checksum- header"}
		}
		alg, value = name, v[0]
	}
	if alg == "" {
		return "", nil, nil, nil
	}
	if newHash = checksums[alg]; newHash == nil {
		return "", nil, nil, &bodyError{string(gofakes3.ErrInvalidRequest), "unsupported checksum x-amz-checksum-" + alg}
	}
	want, derr := base64.StdEncoding.DecodeString(value)
	if derr != nil || len(want) != newHash().Size() {
		return "", nil, nil, &bodyError{string(gofakes3.ErrInvalidRequest), "x-amz-checksum-" + alg + " is not a " + strings.ToUpper(alg)}
	}
	if sdk := h.Get("X-Amz-Sdk-Checksum-Algorithm"); sdk != "" && !strings.EqualFold(sdk, alg) {
		return "", nil, nil, &bodyError{string(gofakes3.ErrInvalidRequest), "x-amz-sdk-checksum-algorithm is not the x-amz-checksum- header's"}
	}
	return alg, newHash, want, nil
}

// etagWriter replaces the ETag header of a response with the identity's override.
type etagWriter struct {
	http.ResponseWriter
	id    *identity
	wrote bool
}

// fix sets the headers of a response of status code before it is written.
func (e *etagWriter) fix(code int) {
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
	if name := e.id.checksum[0]; name != "" && code >= 200 && code < 300 {
		e.Header().Set(name, e.id.checksum[1])
	}
}

func (e *etagWriter) WriteHeader(code int) {
	e.fix(code)
	e.ResponseWriter.WriteHeader(code)
}

func (e *etagWriter) Write(p []byte) (int, error) {
	e.fix(http.StatusOK)
	return e.ResponseWriter.Write(p)
}

func (e *etagWriter) Flush() {
	if f, ok := e.ResponseWriter.(http.Flusher); ok {
		e.fix(http.StatusOK)
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
