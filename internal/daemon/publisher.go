package daemon

import (
	"net/http"

	api "github.com/floelabs/floe/api/daemon"
	"github.com/floelabs/floe/internal/crypto"
)

// storeQuery holds the parsed publisher query, with what was given explicitly.
type storeQuery struct {
	StoreParams
	epochsGiven bool
}

// parseStoreQuery parses Walrus's PublisherQuery from the raw query string; unknown keys and
// unparseable pairs are rejected.
func parseStoreQuery(raw string) (storeQuery, error) {
	q, err := parseQuery(raw, "epochs", "permanent", "deletable", "force", "reuse_resources", "encoding_type", "send_object_to", "share")
	if err != nil {
		return storeQuery{}, err
	}
	sq := storeQuery{StoreParams: StoreParams{Epochs: 1}}
	n, given, err := q.uint("epochs", 32, api.ReasonMalformedRequest)
	if err != nil {
		return sq, err
	}
	if given {
		if n == 0 {
			return sq, badRequest(api.ReasonMalformedRequest, "epochs must be positive")
		}
		sq.Epochs, sq.epochsGiven = uint32(n), true
	}
	if sq.Permanent, err = q.bool("permanent"); err != nil {
		return sq, err
	}
	deletable, err := q.bool("deletable")
	if err != nil {
		return sq, err
	}
	if deletable && sq.Permanent {
		return sq, badRequest(api.ReasonInvalidBlobPersistence, "a blob cannot be both deletable and permanent")
	}
	if sq.Force, err = q.bool("force"); err != nil {
		return sq, err
	}
	if sq.ReuseResources, err = q.bool("reuse_resources"); err != nil {
		return sq, err
	}
	if sq.Share, err = q.bool("share"); err != nil {
		return sq, err
	}
	if sq.Share && !sq.Permanent {
		return sq, badRequest(api.ReasonMalformedRequest, "share=true: deletable blobs cannot be shared (add permanent=true)")
	}
	if v, ok := q["encoding_type"]; ok && v != api.EncodingTypeRS2 {
		return sq, badRequest(api.ReasonMalformedRequest, "encoding_type %q: only RS2 is supported", v)
	}
	if v, ok := q["send_object_to"]; ok {
		if sq.Share {
			return sq, badRequest(api.ReasonMalformedRequest, "send_object_to and share=true exclude each other")
		}
		a, err := crypto.ParseAddress(v)
		if err != nil {
			return sq, badRequest(api.ReasonMalformedRequest, "send_object_to: %v", err)
		}
		sq.SendObjectTo = &a
	}
	return sq, nil
}

// store is PUT /v1/blobs. Everything that can be checked without the body is checked first
// (query, origin, token, epochs against the control plane's limit, declared size); then the
// body is received (bounded by the receive budget and the minimum rate) before the request
// takes a publisher slot.
//
// A body larger than Config.SpillAbove is received into a temporary file and stored from there
// (spill.go).
func (s *Server) store(w http.ResponseWriter, r *http.Request) {
	body, sq, ok := s.uploadBody(w, r, s.cfg.MaxBodySize, true)
	if !ok {
		return
	}
	defer body.close()
	if err := s.checkBlockedReceived(r.Context(), body); err != nil {
		writeError(w, err)
		return
	}
	release, err := s.pub.acquire(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	defer release()
	res, err := s.storeReceived(r.Context(), body, sq.StoreParams)
	if err != nil {
		s.log.Warn("store failed", "size", body.size, "spilled", body.file != nil, "err", err)
		writeError(w, err)
		return
	}
	if res.MarkedInvalid != nil {
		writeJSON(w, http.StatusInternalServerError, res)
		return
	}
	s.log.Info("stored blob", "size", body.size, "spilled", body.file != nil, "newly_created", res.NewlyCreated != nil)
	writeJSON(w, http.StatusOK, res)
}

// uploadBody runs admitUpload and checks the body against the token's size and max_size (as
// Walrus does whenever a token is given), answering a refusal itself. With spill, a large body
// may be received into a temporary file; the caller closes what it returns.
func (s *Server) uploadBody(w http.ResponseWriter, r *http.Request, maxSize int64, spill bool) (*received, storeQuery, bool) {
	body, sq, claims, err := s.admitUpload(w, r, maxSize, spill)
	if err != nil {
		// The body was not (all) read: closing the connection spares reading the rest
		// (net/http would otherwise wait for it before answering).
		w.Header().Set("Connection", "close")
		writeError(w, err)
		return nil, sq, false
	}
	if claims != nil {
		if err := claims.checkSize(uint64(body.size)); err != nil {
			body.close()
			writeError(w, err)
			return nil, sq, false
		}
	}
	return body, sq, true
}

// admitUpload checks a PUT and receives its body. A token is checked as Walrus's auth layer
// does, before the body: signature and expiry, then its jti is consumed, then its claims are
// matched with the request (a token refused there is given back).
// The body is at most maxSize bytes.
func (s *Server) admitUpload(w http.ResponseWriter, r *http.Request, maxSize int64, spill bool) (*received, storeQuery, *jwtClaims, error) {
	sq, err := parseStoreQuery(r.URL.RawQuery)
	if err != nil {
		return nil, sq, nil, err
	}
	if o := r.Header.Get("Origin"); o != "" && !s.originAllowed(o) {
		return nil, sq, nil, errOrigin(o)
	}
	var claims *jwtClaims
	if s.jwt != nil {
		if claims, err = s.jwt.verify(r.Header.Get("Authorization")); err != nil {
			return nil, sq, nil, err
		}
		if err := s.jwt.consume(claims); err != nil {
			return nil, sq, nil, err
		}
		if err := s.jwt.checkClaims(claims, sq, r.ContentLength); err != nil {
			s.jwt.release(claims)
			return nil, sq, nil, err
		}
	}
	maxEpochs, err := s.cfg.Blobs.MaxEpochsAhead(r.Context())
	if err != nil {
		return nil, sq, nil, err
	}
	if sq.Epochs > maxEpochs {
		return nil, sq, nil, badRequest(api.ReasonMalformedRequest, "epochs=%d: the network stores blobs at most %d epochs ahead", sq.Epochs, maxEpochs)
	}
	body, err := s.receiveBody(w, r, maxSize, spill)
	return body, sq, claims, err
}
