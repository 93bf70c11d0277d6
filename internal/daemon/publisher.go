package daemon

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	api "github.com/floelabs/floe/api/daemon"
	"github.com/floelabs/floe/internal/crypto"
)

// parseBool accepts exactly "true" and "false", as serde does.
func parseBool(q url.Values, key string) (bool, error) {
	v := q.Get(key)
	switch v {
	case "":
		return false, nil
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, badRequest(api.ReasonMalformedRequest, "query parameter %s: %q is not a boolean", key, v)
}

// storeQuery holds the parsed publisher query, with what was given explicitly.
type storeQuery struct {
	StoreParams
	epochsGiven bool
}

// parseStoreQuery parses Walrus's PublisherQuery; unknown keys are rejected.
func parseStoreQuery(q url.Values) (storeQuery, error) {
	known := map[string]bool{"epochs": true, "permanent": true, "deletable": true, "force": true,
		"reuse_resources": true, "encoding_type": true, "send_object_to": true, "share": true}
	for k, vs := range q {
		if !known[k] {
			return storeQuery{}, badRequest(api.ReasonMalformedRequest, "unknown query parameter %q", k)
		}
		if len(vs) > 1 {
			return storeQuery{}, badRequest(api.ReasonMalformedRequest, "query parameter %q given %d times", k, len(vs))
		}
	}
	sq := storeQuery{StoreParams: StoreParams{Epochs: 1}}
	if v := q.Get("epochs"); v != "" {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n == 0 {
			return sq, badRequest(api.ReasonMalformedRequest, "epochs: %q is not a positive 32-bit integer", v)
		}
		sq.Epochs, sq.epochsGiven = uint32(n), true
	}
	var err error
	if sq.Permanent, err = parseBool(q, "permanent"); err != nil {
		return sq, err
	}
	deletable, err := parseBool(q, "deletable")
	if err != nil {
		return sq, err
	}
	if deletable && sq.Permanent {
		return sq, badRequest(api.ReasonInvalidBlobPersistence, "a blob cannot be both deletable and permanent")
	}
	if sq.Force, err = parseBool(q, "force"); err != nil {
		return sq, err
	}
	if _, err = parseBool(q, "reuse_resources"); err != nil {
		return sq, err
	}
	share, err := parseBool(q, "share")
	if err != nil {
		return sq, err
	}
	if share {
		return sq, badRequest(api.ReasonMalformedRequest, "share=true: shared blob objects are not supported by Floe")
	}
	if v := q.Get("encoding_type"); v != "" && v != api.EncodingTypeRS2 {
		return sq, badRequest(api.ReasonMalformedRequest, "encoding_type %q: only RS2 is supported", v)
	}
	if v := q.Get("send_object_to"); v != "" {
		a, err := crypto.ParseAddress(v)
		if err != nil {
			return sq, badRequest(api.ReasonMalformedRequest, "send_object_to: %v", err)
		}
		sq.SendObjectTo = &a
	}
	return sq, nil
}

// store is PUT /v1/blobs.
func (s *Server) store(w http.ResponseWriter, r *http.Request) {
	sq, err := parseStoreQuery(r.URL.Query())
	if err != nil {
		writeError(w, err)
		return
	}
	var claims *jwtClaims
	if s.jwt != nil {
		if claims, err = s.jwt.verify(r.Header.Get("Authorization")); err != nil {
			writeError(w, err)
			return
		}
	}
	if r.ContentLength > s.cfg.MaxBodySize {
		writeError(w, &http.MaxBytesError{Limit: s.cfg.MaxBodySize})
		return
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodySize))
	if err != nil {
		writeError(w, fmt.Errorf("reading the body: %w", err))
		return
	}
	if claims != nil && s.cfg.JWT.VerifyUpload {
		if err := claims.checkUpload(sq, uint64(len(data))); err != nil {
			writeError(w, err)
			return
		}
	}
	if claims != nil {
		if err := s.jwt.consume(claims); err != nil {
			writeError(w, err)
			return
		}
	}
	res, err := s.cfg.Blobs.Store(r.Context(), data, sq.StoreParams)
	if err != nil {
		s.log.Warn("store failed", "size", len(data), "err", err)
		writeError(w, err)
		return
	}
	if res.MarkedInvalid != nil {
		writeJSON(w, http.StatusInternalServerError, res)
		return
	}
	s.log.Info("stored blob", "size", len(data), "newly_created", res.NewlyCreated != nil)
	writeJSON(w, http.StatusOK, res)
}
