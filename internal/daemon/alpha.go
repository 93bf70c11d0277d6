package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	api "github.com/floelabs/floe/api/daemon"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/protocol"
)

// Walrus's alpha routes: GET /v1alpha/blobs/{blob_id}/stream and GET or POST
// /v1alpha/blobs/concat.

// maxConcatIDs bounds the blobs one concat request names; maxConcatBody its JSON body.
const (
	maxConcatIDs  = 1000
	maxConcatBody = 1 << 20
)

// streamBlob is GET/HEAD /v1alpha/blobs/{blob_id}/stream: the whole blob, streamed as its
// slivers arrive (as every Floe read is), with X-Walrus-Streaming: true and its Content-Length.
func (s *Server) streamBlob(w http.ResponseWriter, r *http.Request) {
	id, ok := parseIDArg(w, "blob ID", r.PathValue("blob_id"))
	if !ok || !noQuery(w, r) {
		return
	}
	release, ok := s.admitRead(w, r, id)
	if !ok {
		return
	}
	defer release()
	size, err := s.blobSize(r.Context(), id)
	if err != nil {
		writeError(w, err)
		return
	}
	sniff := s.setCommonHeaders(w, r, id, nil)
	w.Header().Set(api.HeaderStreaming, "true")
	s.writeBody(w, r, id, nil, size, http.StatusOK, sniff, ReadParams{})
}

// concatRequest is the JSON body of POST /v1alpha/blobs/concat.
type concatRequest struct {
	IDs    []string `json:"ids"`
	Strict *bool    `json:"strict_consistency_check"`
	Skip   *bool    `json:"skip_consistency_check"`
}

// concatBlobs is GET/HEAD /v1alpha/blobs/concat?ids=a,b,c and POST with {"ids": [...]}: the
// blobs named by blob IDs or blob object IDs, concatenated in order. The ETag is the
// base64url SHA-256 of the IDs as given, joined by commas (Walrus's); the first blob object's
// allowed attributes become headers. Every ID is resolved, checked against the blocklist and
// sized before the first byte is sent, so the response has a Content-Length.
func (s *Server) concatBlobs(w http.ResponseWriter, r *http.Request) {
	var ids []string
	var p ReadParams
	if r.Method == http.MethodPost {
		if !noQuery(w, r) {
			return
		}
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxConcatBody))
		dec.DisallowUnknownFields()
		var req concatRequest
		if err := dec.Decode(&req); err != nil {
			writeError(w, badRequest(api.ReasonMalformedRequest, "body: want {\"ids\": [...]}: %v", err))
			return
		}
		ids = req.IDs
		p.Strict = req.Strict != nil && *req.Strict
		p.Skip = req.Skip != nil && *req.Skip
	} else {
		q, err := parseQuery(r.URL.RawQuery, "ids", "strict_consistency_check", "skip_consistency_check")
		if err != nil {
			writeError(w, err)
			return
		}
		raw, ok := q["ids"]
		if !ok {
			writeError(w, badRequest(api.ReasonMalformedRequest, "query parameter ids is required"))
			return
		}
		for p := range strings.SplitSeq(raw, ",") {
			if p = strings.TrimSpace(p); p != "" {
				ids = append(ids, p)
			}
		}
		if p, err = q.readParams(); err != nil {
			writeError(w, err)
			return
		}
	}
	switch {
	case len(ids) == 0:
		writeError(w, badRequest(api.ReasonMalformedRequest, "at least one blob ID or object ID must be provided"))
		return
	case len(ids) > maxConcatIDs:
		writeError(w, badRequest(api.ReasonMalformedRequest, "%d IDs, at most %d", len(ids), maxConcatIDs))
		return
	case p.check() != nil:
		writeError(w, p.check())
		return
	}
	sum := sha256.Sum256([]byte(strings.Join(ids, ",")))
	etag := base64.RawURLEncoding.EncodeToString(sum[:])
	release, ok := admit(w, r, s.agg)
	if !ok {
		return
	}
	defer release()
	ctx := r.Context()
	blobs := make([]blob.ID, len(ids))
	sizes := make([]uint64, len(ids))
	var attrs map[string]string
	var total uint64
	for i, raw := range ids {
		id, err := s.resolveID(ctx, raw, i == 0, &attrs)
		if err == nil {
			err = s.checkBlocked(id)
		}
		if err == nil {
			sizes[i], err = s.blobSize(ctx, id)
		}
		if err != nil {
			writeError(w, err)
			return
		}
		blobs[i] = id
		total += sizes[i]
	}
	sniff := s.setCommonHeaders(w, r, blobs[0], attrs)
	h := w.Header()
	h.Set("ETag", etag)
	h.Del("Accept-Ranges")
	h.Set("Content-Length", strconv.FormatUint(total, 10))
	if r.Method == http.MethodHead {
		if sniff {
			var buf prefixBuffer
			buf.max = sniffLen
			if n := min(sizes[0], sniffLen); n > 0 {
				if err := s.cfg.Blobs.ReadRange(ctx, blobs[0], 0, n, &buf, ReadParams{}); err != nil {
					writeError(w, err)
					return
				}
			}
			h.Set("Content-Type", sniffType(buf.b))
		}
		setContentPolicy(h)
		w.WriteHeader(http.StatusOK)
		return
	}
	if !sniff {
		setContentPolicy(h)
	}
	dw := &deferredWriter{w: w, code: http.StatusOK, sniff: sniff, want: min(total, sniffLen)}
	var err error
	for i, id := range blobs {
		var n int64
		n, err = s.cfg.Blobs.Read(ctx, id, dw, p)
		if err == nil && uint64(n) != sizes[i] {
			err = fmt.Errorf("daemon: blob %s: read %d bytes, its size is %d", id, n, sizes[i])
		}
		if err != nil {
			break
		}
	}
	s.endBody(w, dw, err, "concat failed after the response started")
}

// resolveID parses a concat ID: a blob ID, else a blob object ID resolved through the control
// plane (its attributes kept for the first).
func (s *Server) resolveID(ctx context.Context, raw string, first bool, attrs *map[string]string) (blob.ID, error) {
	if id, err := blob.ParseID(raw); err == nil {
		return id, nil
	}
	oid, err := protocol.ParseObjectID(raw)
	if err != nil {
		return blob.ID{}, badRequest(api.ReasonInvalidIDFormat, "invalid ID format: %s", raw)
	}
	obj, err := s.cfg.Blobs.Object(ctx, oid)
	if err != nil {
		if errors.Is(err, ErrBlobNotFound) {
			return blob.ID{}, &statusError{code: http.StatusNotFound, reason: api.ReasonObjectIDResolutionFailed,
				msg: fmt.Sprintf("failed to resolve object ID %s: %v", oid, err)}
		}
		return blob.ID{}, err
	}
	if first {
		*attrs = obj.Attributes
	}
	return obj.BlobID, nil
}

var _ io.Writer = (*deferredWriter)(nil)
