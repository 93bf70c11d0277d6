package daemon

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"

	api "github.com/floelabs/floe/api/daemon"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/protocol"
)

// sniffLen is how many bytes http.DetectContentType looks at.
const sniffLen = 512

// byteRange is [start, start+length) of a blob.
type byteRange struct {
	start, length uint64
}

// parseIDArg parses s as a blob ID, answering 400 (naming what: "blob ID", "quilt ID") if it is
// not one.
func parseIDArg(w http.ResponseWriter, what, s string) (blob.ID, bool) {
	id, err := blob.ParseID(s)
	if err != nil {
		writeError(w, badRequest(api.ReasonMalformedRequest, "%s %q: %v", what, s, err))
		return blob.ID{}, false
	}
	return id, true
}

// noQuery answers 400 if the request has query parameters, for routes that take none.
func noQuery(w http.ResponseWriter, r *http.Request) bool {
	if _, err := parseQuery(r.URL.RawQuery); err != nil {
		writeError(w, err)
		return false
	}
	return true
}

// admitRead checks id against the blocklist and takes an aggregator slot, answering a refusal
// itself; the caller releases the slot.
func (s *Server) admitRead(w http.ResponseWriter, r *http.Request, id blob.ID) (func(), bool) {
	if err := s.checkBlocked(id); err != nil {
		writeError(w, err)
		return nil, false
	}
	return admit(w, r, s.agg)
}

// readBlob is GET/HEAD /v1/blobs/{blob_id}.
func (s *Server) readBlob(w http.ResponseWriter, r *http.Request) {
	id, ok := parseIDArg(w, "blob ID", r.PathValue("blob_id"))
	if !ok {
		return
	}
	p, err := parseReadQuery(r.URL.RawQuery)
	if err != nil {
		writeError(w, err)
		return
	}
	release, ok := s.admitRead(w, r, id)
	if !ok {
		return
	}
	defer release()
	s.serveBlob(w, r, id, nil, p)
}

// readByObjectID is GET/HEAD /v1/blobs/by-object-id/{object_id}.
func (s *Server) readByObjectID(w http.ResponseWriter, r *http.Request, objectID string) {
	oid, err := protocol.ParseObjectID(objectID)
	if err != nil {
		writeError(w, badRequest(api.ReasonMalformedRequest, "object ID %q: %v", objectID, err))
		return
	}
	p, err := parseReadQuery(r.URL.RawQuery)
	if err != nil {
		writeError(w, err)
		return
	}
	release, ok := admit(w, r, s.agg)
	if !ok {
		return
	}
	defer release()
	obj, err := s.cfg.Blobs.Object(r.Context(), oid)
	if err == nil {
		err = s.checkBlocked(obj.BlobID)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	s.serveBlob(w, r, obj.BlobID, obj.Attributes, p)
}

// readByteRange is GET/HEAD /v1/blobs/{blob_id}/byte-range?start=&length= (200, not 206).
func (s *Server) readByteRange(w http.ResponseWriter, r *http.Request, blobID string) {
	id, ok := parseIDArg(w, "blob ID", blobID)
	if !ok {
		return
	}
	q, err := parseQuery(r.URL.RawQuery, "start", "length")
	if err != nil {
		writeError(w, err)
		return
	}
	var br byteRange
	for _, p := range []struct {
		key string
		dst *uint64
	}{{"start", &br.start}, {"length", &br.length}} {
		n, given, err := q.uint(p.key, 64, api.ReasonInvalidByteRange)
		if err != nil {
			writeError(w, err)
			return
		}
		if !given {
			writeError(w, badRequest(api.ReasonInvalidByteRange, "query parameter %s is required", p.key))
			return
		}
		*p.dst = n
	}
	if br.length == 0 {
		writeError(w, badRequest(api.ReasonInvalidByteRange, "length must be positive"))
		return
	}
	if br.start+br.length < br.start {
		writeError(w, badRequest(api.ReasonInvalidByteRange, "start + length overflows"))
		return
	}
	release, ok := s.admitRead(w, r, id)
	if !ok {
		return
	}
	defer release()
	s.serveRange(w, r, id, br)
}

// blobSize returns the blob's size, enforcing MaxBlobSize.
func (s *Server) blobSize(ctx context.Context, id blob.ID) (uint64, error) {
	size, err := s.cfg.Blobs.BlobSize(ctx, id)
	if err != nil {
		return 0, err
	}
	if s.cfg.MaxBlobSize > 0 && size > s.cfg.MaxBlobSize {
		return 0, &statusError{code: http.StatusForbidden, reason: api.ReasonBlobTooLarge,
			msg: fmt.Sprintf("blob of %d bytes exceeds the aggregator's limit of %d", size, s.cfg.MaxBlobSize)}
	}
	return size, nil
}

// setCommonHeaders sets Walrus's success headers, the mirrored content type and allowed
// attributes. It reports whether the content type is still to be sniffed.
func (s *Server) setCommonHeaders(w http.ResponseWriter, r *http.Request, id blob.ID, attrs map[string]string) bool {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "public, max-age=86400, stale-while-revalidate=3600")
	h.Set("ETag", id.String())
	h.Set("Accept-Ranges", "bytes")
	// The content type is mirrored from these request headers: a shared cache must keep one
	// response per value.
	h.Set("Vary", "Accept, Content-Type")
	if a := r.Header.Get("Accept"); a != "" && !strings.Contains(a, "*") {
		h.Set("Content-Type", a)
	} else if ct := r.Header.Get("Content-Type"); ct != "" {
		h.Set("Content-Type", ct)
	}
	for k, v := range attrs {
		name := strings.ToLower(k)
		if !s.allowed[name] || !validHeaderName(name) || !validHeaderValue(v) {
			continue
		}
		canon := textproto.CanonicalMIMEHeaderKey(name)
		if _, set := h[canon]; set {
			continue
		}
		h.Set(canon, v)
	}
	return h.Get("Content-Type") == ""
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// notModified answers 304 when If-None-Match names the blob (the ETag is the blob ID, which
// names the content).
func notModified(w http.ResponseWriter, r *http.Request, id blob.ID) bool {
	inm := r.Header.Get("If-None-Match")
	if inm == "" {
		return false
	}
	for _, t := range strings.Split(inm, ",") {
		t = strings.Trim(strings.TrimPrefix(strings.TrimSpace(t), "W/"), `"`)
		if t == id.String() || t == "*" {
			w.WriteHeader(http.StatusNotModified)
			return true
		}
	}
	return false
}

// serveBlob answers a whole-blob read, or a 206 for a single Range, with the checks of p.
func (s *Server) serveBlob(w http.ResponseWriter, r *http.Request, id blob.ID, attrs map[string]string, p ReadParams) {
	size, err := s.blobSize(r.Context(), id)
	if err != nil {
		writeError(w, err)
		return
	}
	sniff := s.setCommonHeaders(w, r, id, attrs)
	if notModified(w, r, id) {
		return
	}
	if rh := r.Header.Get("Range"); rh != "" && ifRangeMatches(r, id) {
		br, err := parseRange(rh, size)
		if err != nil {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", size))
			writeErrorCode(w, http.StatusRequestedRangeNotSatisfiable, api.ReasonInvalidByteRange, err.Error())
			return
		}
		if br != nil {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", br.start, br.start+br.length-1, size))
			s.writeBody(w, r, id, br, size, http.StatusPartialContent, sniff, p)
			return
		}
	}
	s.writeBody(w, r, id, nil, size, http.StatusOK, sniff, p)
}

// serveRange answers /byte-range: a 200 with the bytes.
func (s *Server) serveRange(w http.ResponseWriter, r *http.Request, id blob.ID, br byteRange) {
	size, err := s.blobSize(r.Context(), id)
	if err != nil {
		writeError(w, err)
		return
	}
	if br.start >= size || br.length > size-br.start {
		writeError(w, badRequest(api.ReasonInvalidByteRange, "range [%d, %d+%d) outside the blob of %d bytes", br.start, br.start, br.length, size))
		return
	}
	sniff := s.setCommonHeaders(w, r, id, nil)
	// The entity is the range, not the blob (Walrus's ETag for this route).
	w.Header().Set("ETag", fmt.Sprintf("%s-%d-%d", id, br.start, br.length))
	s.writeBody(w, r, id, &br, size, http.StatusOK, sniff, ReadParams{})
}

// errRangeNotSatisfiable: a Range that does not overlap the blob → 416.
var errRangeNotSatisfiable = errors.New("range not satisfiable")

// parseRange interprets a Range header for a blob of size bytes as RFC 9110 §14 does: one
// range "bytes=a-b" (b past the end is clamped), "bytes=a-" (to the end) or "bytes=-n" (the
// last n bytes, all of them if n exceeds the size). It returns nil, to serve the whole blob
// with 200, for a header a server may ignore: another unit, a malformed range, or several
// ranges (Floe sends no multipart/byteranges; the whole body is a valid answer to them). A
// single range that starts at or past the end, or "bytes=-0", is unsatisfiable → 416.
func parseRange(h string, size uint64) (*byteRange, error) {
	if len(h) < 6 || !strings.EqualFold(h[:6], "bytes=") {
		return nil, nil
	}
	spec := strings.TrimSpace(h[6:])
	a, b, ok := strings.Cut(spec, "-")
	if !ok || strings.Contains(spec, ",") {
		return nil, nil
	}
	if a == "" {
		n, err := strconv.ParseUint(b, 10, 64)
		switch {
		case err != nil:
			return nil, nil
		case n == 0:
			return nil, fmt.Errorf("%w: %q selects no byte", errRangeNotSatisfiable, h)
		case size == 0:
			// The whole (empty) blob is the last n bytes; a 206 cannot say so.
			return nil, nil
		}
		n = min(n, size)
		return &byteRange{start: size - n, length: n}, nil
	}
	first, err := strconv.ParseUint(a, 10, 64)
	if err != nil {
		return nil, nil
	}
	last := uint64(math.MaxUint64)
	if b != "" {
		if last, err = strconv.ParseUint(b, 10, 64); err != nil || last < first {
			return nil, nil
		}
	}
	if first >= size {
		return nil, fmt.Errorf("%w: %q starts at or past the end of the blob of %d bytes", errRangeNotSatisfiable, h, size)
	}
	last = min(last, size-1)
	return &byteRange{start: first, length: last - first + 1}, nil
}

// ifRangeMatches evaluates If-Range (RFC 9110 §13.1.5): the Range applies only if the
// validator is the blob's entity tag, compared strongly (a date never matches: no
// Last-Modified is sent).
func ifRangeMatches(r *http.Request, id blob.ID) bool {
	v := strings.TrimSpace(r.Header.Get("If-Range"))
	if v == "" {
		return true
	}
	return v == `"`+id.String()+`"` || v == id.String()
}

// endBody ends a response written through dw after err: on success it flushes what dw holds;
// an error before the first byte becomes an error response; after it the connection is
// aborted (and msg logged with args, unless the client went away), so that the client sees a
// short body rather than a wrong one.
func (s *Server) endBody(w http.ResponseWriter, dw *deferredWriter, err error, msg string, args ...any) {
	if err == nil {
		err = dw.flush()
	}
	if err == nil {
		return
	}
	if !dw.started {
		writeError(w, err)
		return
	}
	if !errors.Is(err, context.Canceled) {
		s.log.Warn(msg, append(args, "err", err)...)
	}
	panic(http.ErrAbortHandler)
}

// writeBody streams the blob (or range) with a deferred header: an error before the first
// byte still becomes an error response; after it, the connection is aborted so that the client
// sees a short body rather than a wrong one. The body is read with the checks of p (a HEAD's
// sniffed prefix with the default ones).
func (s *Server) writeBody(w http.ResponseWriter, r *http.Request, id blob.ID, br *byteRange, size uint64, code int, sniff bool, p ReadParams) {
	length := size
	if br != nil {
		length = br.length
	}
	w.Header().Set("Content-Length", strconv.FormatUint(length, 10))
	ctx := r.Context()
	if r.Method == http.MethodHead {
		if sniff {
			var buf prefixBuffer
			buf.max = sniffLen
			start := uint64(0)
			if br != nil {
				start = br.start
			}
			if n := min(length, sniffLen); n > 0 {
				if err := s.cfg.Blobs.ReadRange(ctx, id, start, n, &buf, ReadParams{}); err != nil {
					writeError(w, err)
					return
				}
			}
			w.Header().Set("Content-Type", sniffType(buf.b))
		}
		setContentPolicy(w.Header())
		w.WriteHeader(code)
		return
	}
	if !sniff {
		setContentPolicy(w.Header())
	}
	dw := &deferredWriter{w: w, code: code, sniff: sniff, want: min(length, sniffLen)}
	var err error
	if br == nil {
		_, err = s.cfg.Blobs.Read(ctx, id, dw, p)
	} else {
		err = s.cfg.Blobs.ReadRange(ctx, id, br.start, br.length, dw, p)
	}
	s.endBody(w, dw, err, "read failed after the response started", "blob_id", id)
}

func sniffType(b []byte) string {
	if len(b) == 0 {
		return "application/octet-stream"
	}
	return http.DetectContentType(b)
}

// deferredWriter holds back the status line until it has the first bytes (to sniff the
// content type) or the read ends.
type deferredWriter struct {
	w       http.ResponseWriter
	code    int
	sniff   bool
	want    uint64 // bytes needed to sniff
	buf     []byte
	started bool
}

func (d *deferredWriter) Write(p []byte) (int, error) {
	if d.started {
		return d.w.Write(p)
	}
	if d.sniff && uint64(len(d.buf)+len(p)) < d.want {
		d.buf = append(d.buf, p...)
		return len(p), nil
	}
	if err := d.start(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (d *deferredWriter) start(p []byte) error {
	d.started = true
	if d.sniff {
		head := append(d.buf, p...)
		d.w.Header().Set("Content-Type", sniffType(head[:min(len(head), sniffLen)]))
		setContentPolicy(d.w.Header())
	}
	d.w.WriteHeader(d.code)
	if len(d.buf) > 0 {
		if _, err := d.w.Write(d.buf); err != nil {
			return err
		}
		d.buf = nil
	}
	if len(p) > 0 {
		_, err := d.w.Write(p)
		return err
	}
	return nil
}

func (d *deferredWriter) flush() error {
	if d.started {
		return nil
	}
	return d.start(nil)
}

// prefixBuffer keeps the first max bytes written to it.
type prefixBuffer struct {
	b   []byte
	max int
}

func (p *prefixBuffer) Write(b []byte) (int, error) {
	if room := p.max - len(p.b); room > 0 {
		p.b = append(p.b, b[:min(room, len(b))]...)
	}
	return len(b), nil
}
