package storagenode

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"time"

	api "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/protocol"
	"github.com/floelabs/floe/internal/storagenode/engine"
	"github.com/floelabs/floe/redstuff"
)

// Handler returns the node's HTTP handler (the HTTPS server serves it).
func (n *Node) Handler() http.Handler {
	mux := http.NewServeMux()
	route := func(method, pattern string, h func(http.ResponseWriter, *http.Request) error) {
		mux.Handle(method+" "+pattern, n.instrument(method, pattern, h))
	}
	route("GET", api.RouteMetadata, n.getMetadata)
	route("PUT", api.RouteMetadata, n.putMetadata)
	route("GET", api.RouteMetadataStatus, n.metadataStatus)
	route("GET", api.RouteSliver, n.getSliver)
	route("PUT", api.RouteSliver, n.putSliver)
	route("GET", api.RouteSliverStatus, n.sliverStatus)
	route("PUT", api.RouteSliverBatch, n.putSliverBatch)
	route("GET", api.RoutePermanentConfirm, n.confirmPermanent)
	route("GET", api.RouteDeletableConfirm, n.confirmDeletable)
	route("GET", api.RouteRecoverySymbols, n.recoverySymbols)
	route("POST", api.RouteInconsistencyProof, n.postInconsistencyProof)
	route("GET", api.RouteBlobStatus, n.blobStatus)
	route("GET", api.RouteHealth, n.health)
	route("POST", api.RouteChallengeAnswer, n.postChallengeAnswer)
	route("POST", api.RouteSyncShard, n.syncShard)
	route("GET", api.RouteDecodingSymbols, n.decodingSymbols) // decoding.go
	n.routeAPIDocs(route)                                     // apidocs.go
	return mux
}

func slogLogger(l *slog.Logger) *log.Logger { return slog.NewLogLogger(l.Handler(), slog.LevelDebug) }

type statusWriter struct {
	http.ResponseWriter
	code  int
	bytes int64
}

// Unwrap gives http.ResponseController the underlying writer (for read deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (n *Node) instrument(method, route string, h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		w.Header().Set("Access-Control-Allow-Origin", "*")
		if err := h(sw, r); err != nil {
			writeError(sw, n.cfg.Logger, r, err)
		}
		n.hm.requests.WithLabelValues(route, method, strconv.Itoa(sw.code)).Inc()
		n.hm.duration.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
		n.hm.bodyBytes.WithLabelValues("out").Add(float64(sw.bytes))
	})
}

// ---- request parsing ----

func pathBlobID(r *http.Request) (blob.ID, error) {
	id, err := blob.ParseID(r.PathValue("blob_id"))
	if err != nil {
		return id, fmt.Errorf("%w: %w", engine.ErrBadBlobID, err)
	}
	return id, nil
}

// pathBlobSliver parses the blob ID, pair index and sliver type of a sliver route.
func pathBlobSliver(r *http.Request) (blob.ID, int, redstuff.Axis, error) {
	id, err := pathBlobID(r)
	if err != nil {
		return id, 0, 0, err
	}
	pair, a, err := pathSliver(r)
	return id, pair, a, err
}

// pathSliver parses the pair index (checked against the committee by the engine) and the
// sliver type of a sliver route.
func pathSliver(r *http.Request) (pair int, a redstuff.Axis, err error) {
	p, err := strconv.ParseUint(r.PathValue("pair"), 10, 16)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: %q", engine.ErrBadPairIndex, r.PathValue("pair"))
	}
	t, err := blob.ParseSliverType(r.PathValue("type"))
	if err != nil {
		return 0, 0, fmt.Errorf("%w: %w", engine.ErrBadSliverType, err)
	}
	return int(p), t.Axis(), nil
}

func queryBool(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%w: %s=%q", engine.ErrBadQuery, name, v)
	}
	return b, nil
}

func checkOctetStream(r *http.Request, also ...string) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && mt == api.ContentTypeOctetStream {
		return nil
	}
	for _, a := range also {
		if err == nil && mt == a {
			return nil
		}
	}
	return fmt.Errorf("%w: %q", engine.ErrUnsupportedMedia, ct)
}

// ---- answers ----

// answerBCS answers a route on a blob with the BCS bytes get returns for it.
func answerBCS(w http.ResponseWriter, r *http.Request, get func(context.Context, blob.ID) ([]byte, error)) error {
	id, err := pathBlobID(r)
	if err != nil {
		return err
	}
	b, err := get(r.Context(), id)
	if err != nil {
		return err
	}
	return writeBCS(w, b)
}

// answerJSON answers a route on a blob with what get returns for it, as a success.
func answerJSON[T any](w http.ResponseWriter, r *http.Request, get func(context.Context, blob.ID) (T, error)) error {
	id, err := pathBlobID(r)
	if err != nil {
		return err
	}
	v, err := get(r.Context(), id)
	if err != nil {
		return err
	}
	writeSuccess(w, http.StatusOK, v)
	return nil
}

func writeBCS(w http.ResponseWriter, b []byte) error {
	w.Header().Set("Content-Type", api.ContentTypeOctetStream)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	return nil
}

// outcome answers an accepted upload: 201 stored, 202 buffered, 200 already held.
func outcome(w http.ResponseWriter, o engine.Outcome, what string) {
	switch o {
	case engine.Stored:
		writeSuccess(w, http.StatusCreated, what+" stored")
	case engine.Buffered:
		writeSuccess(w, http.StatusAccepted, what+" buffered until the blob is registered")
	default:
		writeSuccess(w, http.StatusOK, what+" already stored")
	}
}

// ---- metadata ----

func (n *Node) getMetadata(w http.ResponseWriter, r *http.Request) error {
	return answerBCS(w, r, n.e.Reads.Metadata)
}

func (n *Node) putMetadata(w http.ResponseWriter, r *http.Request) error {
	id, err := pathBlobID(r)
	if err != nil {
		return err
	}
	pending, err := queryBool(r, api.QueryPending)
	if err != nil {
		return err
	}
	if err := checkOctetStream(r); err != nil {
		return err
	}
	limit, err := n.e.Uploads.MetadataLimit()
	if err != nil {
		return err
	}
	body, err := n.readBody(w, r, limit)
	if err != nil {
		return err
	}
	o, err := n.e.Uploads.PutMetadata(r.Context(), id, body, engine.Upload{Pending: pending, Source: source(r)})
	if err != nil {
		return err
	}
	outcome(w, o, "metadata")
	return nil
}

func (n *Node) metadataStatus(w http.ResponseWriter, r *http.Request) error {
	return answerJSON(w, r, n.e.Uploads.MetadataStatus)
}

// ---- slivers ----

func (n *Node) getSliver(w http.ResponseWriter, r *http.Request) error {
	id, pair, a, err := pathBlobSliver(r)
	if err != nil {
		return err
	}
	data, err := n.e.Reads.Sliver(r.Context(), id, pair, a)
	if err != nil {
		return err
	}
	return writeBCS(w, data)
}

func (n *Node) sliverStatus(w http.ResponseWriter, r *http.Request) error {
	id, pair, a, err := pathBlobSliver(r)
	if err != nil {
		return err
	}
	st, err := n.e.Uploads.SliverStatus(r.Context(), id, pair, a)
	if err != nil {
		return err
	}
	writeSuccess(w, http.StatusOK, st)
	return nil
}

func (n *Node) putSliver(w http.ResponseWriter, r *http.Request) error {
	id, pair, a, err := pathBlobSliver(r)
	if err != nil {
		return err
	}
	pending, err := queryBool(r, api.QueryPending)
	if err != nil {
		return err
	}
	limit, err := n.e.Uploads.SliverLimit()
	if err != nil {
		return err
	}
	body, err := n.readBody(w, r, limit)
	if err != nil {
		return err
	}
	o, err := n.e.Uploads.PutSliver(r.Context(), id, pair, a, body, engine.Upload{Pending: pending, Source: source(r)})
	if err != nil {
		return err
	}
	outcome(w, o, "sliver")
	return nil
}

func (n *Node) putSliverBatch(w http.ResponseWriter, r *http.Request) error {
	id, err := pathBlobID(r)
	if err != nil {
		return err
	}
	pending, err := queryBool(r, api.QueryPending)
	if err != nil {
		return err
	}
	if err := checkOctetStream(r, api.ContentTypeSliverBatch); err != nil {
		return err
	}
	// A batch is read frame by frame: what it holds at once is bounded by the engine, however
	// long the body.
	hold, err := n.e.Uploads.BatchMemory()
	if err != nil {
		return err
	}
	release, err := n.uploadRoom(r.Context(), r.ContentLength, hold)
	if err != nil {
		return err
	}
	defer release()
	body := n.bodyReader(w, r)
	defer body.done()
	res, err := n.e.Uploads.PutBatch(r.Context(), id, body, engine.Upload{Pending: pending, Source: source(r)})
	if err != nil {
		return err
	}
	writeSuccess(w, http.StatusOK, res)
	return nil
}

// ---- confirmations ----

func (n *Node) confirmPermanent(w http.ResponseWriter, r *http.Request) error {
	return n.confirm(w, r, protocol.Permanent)
}

func (n *Node) confirmDeletable(w http.ResponseWriter, r *http.Request) error {
	obj, err := protocol.ParseObjectID(r.PathValue("object_id"))
	if err != nil {
		return fmt.Errorf("%w: %w", engine.ErrBadObjectID, err)
	}
	return n.confirm(w, r, protocol.Deletable(obj))
}

// confirm answers a confirmation request; wait_for_registration lets the node wait for the
// registration, wait_millis says how long (else the node's maximum).
func (n *Node) confirm(w http.ResponseWriter, r *http.Request, pt protocol.PersistenceType) error {
	id, err := pathBlobID(r)
	if err != nil {
		return err
	}
	wait, err := queryBool(r, api.QueryWaitForReg)
	if err != nil {
		return err
	}
	waitFor := time.Duration(-1) // the node's maximum
	if s := r.URL.Query().Get(api.QueryWaitMillis); s != "" {
		ms, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return fmt.Errorf("%w: %s=%q", engine.ErrBadQuery, api.QueryWaitMillis, s)
		}
		waitFor = time.Duration(ms) * time.Millisecond
	}
	if !wait {
		waitFor = 0
	}
	conf, err := n.e.Confirmations.Confirm(r.Context(), id, pt, waitFor)
	if err != nil {
		return err
	}
	writeSuccess(w, http.StatusOK, conf)
	return nil
}

// ---- recovery symbols and inconsistency proofs ----

func (n *Node) recoverySymbols(w http.ResponseWriter, r *http.Request) error {
	id, err := pathBlobID(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	var sq engine.SymbolQuery
	for _, s := range q[api.QuerySymbolID] {
		sid, err := blob.ParseSymbolID(s)
		if err != nil {
			return fmt.Errorf("%w: id=%q", engine.ErrBadQuery, s)
		}
		sq.IDs = append(sq.IDs, sid)
	}
	if s := q.Get(api.QueryTargetSliver); s != "" {
		t, err := strconv.ParseUint(s, 10, 16)
		if err != nil {
			return fmt.Errorf("%w: targetSliver=%q", engine.ErrBadQuery, s)
		}
		ti := int(t)
		sq.Target = &ti
	}
	axis := func(name string) (*redstuff.Axis, error) {
		s := q.Get(name)
		if s == "" {
			return nil, nil
		}
		a, err := blob.ParseAxis(s)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", engine.ErrBadQuery, name, err)
		}
		return &a, nil
	}
	if sq.TargetAxis, err = axis(api.QueryTargetType); err != nil {
		return err
	}
	if sq.ProofAxis, err = axis(api.QueryProofAxis); err != nil {
		return err
	}
	b, err := n.e.Reads.RecoverySymbols(r.Context(), id, sq)
	if err != nil {
		return err
	}
	return writeBCS(w, b)
}

// postInconsistencyProof verifies a proof and answers with the node's signed invalid-blob
// message.
func (n *Node) postInconsistencyProof(w http.ResponseWriter, r *http.Request) error {
	id, err := pathBlobID(r)
	if err != nil {
		return err
	}
	t, err := blob.ParseSliverType(r.PathValue("type"))
	if err != nil {
		return fmt.Errorf("%w: %w", engine.ErrBadSliverType, err)
	}
	limit, err := n.e.Inconsistency.ProofLimit(r.Context(), id, t.Axis())
	if err != nil {
		return err
	}
	body, err := n.readBody(w, r, limit)
	if err != nil {
		return err
	}
	sm, err := n.e.Inconsistency.Attest(r.Context(), id, t.Axis(), body)
	if err != nil {
		return err
	}
	writeSuccess(w, http.StatusOK, sm)
	return nil
}

// ---- status and health ----

func (n *Node) blobStatus(w http.ResponseWriter, r *http.Request) error {
	return answerJSON(w, r, n.e.Reads.BlobStatus)
}

func (n *Node) health(w http.ResponseWriter, r *http.Request) error {
	detailed, err := queryBool(r, api.QueryDetailed)
	if err != nil {
		return err
	}
	h, err := n.e.Health(r.Context(), detailed)
	if err != nil {
		return err
	}
	writeSuccess(w, http.StatusOK, h)
	return nil
}
