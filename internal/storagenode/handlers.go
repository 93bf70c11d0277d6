package storagenode

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"net/http"
	"strconv"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	api "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/nodestore"
	"github.com/floelabs/floe/internal/protocol"
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
	return mux
}

type statusWriter struct {
	http.ResponseWriter
	code  int
	bytes int64
}

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
			writeError(sw, n.log, r, err)
		}
		n.m.requests.WithLabelValues(route, method, strconv.Itoa(sw.code)).Inc()
		n.m.duration.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
		n.m.bodyBytes.WithLabelValues("out").Add(float64(sw.bytes))
	})
}

// ---- request parsing ----

func pathBlobID(r *http.Request) (blob.ID, error) {
	id, err := blob.ParseID(r.PathValue("blob_id"))
	if err != nil {
		return id, fmt.Errorf("%w: %w", ErrBadBlobID, err)
	}
	return id, nil
}

func pathSliver(r *http.Request, nShards int) (pair int, a redstuff.Axis, err error) {
	p, err := strconv.ParseUint(r.PathValue("pair"), 10, 16)
	if err != nil || int(p) >= nShards {
		return 0, 0, fmt.Errorf("%w: %q (n = %d)", ErrBadPairIndex, r.PathValue("pair"), nShards)
	}
	t, err := blob.ParseSliverType(r.PathValue("type"))
	if err != nil {
		return 0, 0, fmt.Errorf("%w: %w", ErrBadSliverType, err)
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
		return false, fmt.Errorf("%w: %s=%q", ErrBadQuery, name, v)
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
	return fmt.Errorf("%w: %q", ErrUnsupportedMedia, ct)
}

// readBody reads a request body of at most limit bytes.
func (n *Node) readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, withMeta(fmt.Errorf("%w: %d bytes, limit %d", ErrBodyTooLarge, r.ContentLength, limit), "limit", strconv.FormatInt(limit, 10))
	}
	var body []byte
	var err error
	if r.ContentLength >= 0 {
		body = make([]byte, r.ContentLength)
		_, err = io.ReadFull(r.Body, body)
	} else {
		body, err = io.ReadAll(io.LimitReader(r.Body, limit+1))
		if err == nil && int64(len(body)) > limit {
			return nil, withMeta(fmt.Errorf("%w: limit %d", ErrBodyTooLarge, limit), "limit", strconv.FormatInt(limit, 10))
		}
	}
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: %w", ErrTruncatedBody, err)
		}
		return nil, fmt.Errorf("%w: reading the body: %w", ErrTruncatedBody, err)
	}
	n.m.bodyBytes.WithLabelValues("in").Add(float64(len(body)))
	return body, nil
}

// sliverLimit is the largest sliver PUT body for n shards: the largest primary sliver plus
// headroom.
func sliverLimit(p redstuff.Params) int64 {
	return int64(p.PrimarySliverLen(redstuff.MaxSymbolSize)) + api.SliverBodyHeadroom
}

// blobInfo returns the node's blob info (zero if none).
func (n *Node) blobInfo(ctx context.Context, id blob.ID) (nodestore.BlobInfo, error) {
	info, err := n.store.BlobInfo(ctx, id)
	if errors.Is(err, nodestore.ErrNotFound) {
		return nodestore.BlobInfo{}, nil
	}
	return info, err
}

// ---- metadata ----

func (n *Node) getMetadata(w http.ResponseWriter, r *http.Request) error {
	id, err := pathBlobID(r)
	if err != nil {
		return err
	}
	info, err := n.blobInfo(r.Context(), id)
	if err != nil {
		return err
	}
	if info.Invalid {
		return fmt.Errorf("%w: %s", ErrInvalidBlob, id)
	}
	md, err := n.store.Metadata(r.Context(), id)
	if errors.Is(err, nodestore.ErrNotFound) {
		return fmt.Errorf("%w: %s", ErrMetadataNotFound, id)
	}
	if err != nil {
		return err
	}
	b, err := md.MarshalBCS()
	if err != nil {
		return err
	}
	return writeBCS(w, b)
}

func writeBCS(w http.ResponseWriter, b []byte) error {
	w.Header().Set("Content-Type", api.ContentTypeOctetStream)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	return nil
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
	v, err := n.currentView()
	if err != nil {
		return err
	}
	body, err := n.readBody(r, api.MetadataLimit(v.nShards))
	if err != nil {
		return err
	}
	md, err := decodeMetadata(id, body, v.enc.Params())
	if err != nil {
		return err
	}
	code, msg, err := n.storeMetadata(r.Context(), md, v, pending)
	if err != nil {
		return err
	}
	writeSuccess(w, code, msg)
	return nil
}

// decodeMetadata decodes and verifies a metadata body for blob id.
func decodeMetadata(id blob.ID, body []byte, p redstuff.Params) (*blob.MetadataWithID, error) {
	var m blob.Metadata
	if err := m.UnmarshalBCS(body); err != nil {
		return nil, fmt.Errorf("%w: metadata: %w", ErrMalformedBody, err)
	}
	md := &blob.MetadataWithID{ID: id, Metadata: m}
	if err := md.Verify(p); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidMetadata, err)
	}
	return md, nil
}

// storeMetadata stores (or buffers) verified metadata and returns the status code and message.
func (n *Node) storeMetadata(ctx context.Context, md *blob.MetadataWithID, v *epochView, pending bool) (int, string, error) {
	info, err := n.blobInfo(ctx, md.ID)
	if err != nil {
		return 0, "", err
	}
	if info.Invalid {
		return 0, "", fmt.Errorf("%w: %s", ErrInvalidBlob, md.ID)
	}
	if !info.IsRegistered(v.epoch) {
		if !pending {
			return 0, "", fmt.Errorf("%w: %s", ErrNotRegistered, md.ID)
		}
		added, err := n.pending.putMetadata(md, time.Now())
		if err != nil {
			return 0, "", err
		}
		n.m.pendingBytes.Set(float64(n.pending.size()))
		if !added {
			return http.StatusOK, "metadata already buffered", nil
		}
		return http.StatusAccepted, "metadata buffered until the blob is registered", nil
	}
	has, err := n.store.HasMetadata(ctx, md.ID)
	if err != nil {
		return 0, "", err
	}
	if has {
		return http.StatusOK, "metadata already stored", nil
	}
	if err := n.store.PutMetadata(ctx, md); err != nil {
		return 0, "", err
	}
	return http.StatusCreated, "metadata stored", nil
}

func (n *Node) metadataStatus(w http.ResponseWriter, r *http.Request) error {
	id, err := pathBlobID(r)
	if err != nil {
		return err
	}
	st := api.Nonexistent
	has, err := n.store.HasMetadata(r.Context(), id)
	if err != nil {
		return err
	}
	switch {
	case has:
		st = api.Stored
	case n.pending.metadata(id) != nil:
		st = api.Buffered
	}
	writeSuccess(w, http.StatusOK, st)
	return nil
}

// ---- slivers ----

// sliverTarget resolves the path of a sliver route.
func (n *Node) sliverTarget(r *http.Request) (blob.ID, *epochView, int, redstuff.Axis, error) {
	id, err := pathBlobID(r)
	if err != nil {
		return id, nil, 0, 0, err
	}
	v, err := n.currentView()
	if err != nil {
		return id, nil, 0, 0, err
	}
	pair, a, err := pathSliver(r, v.nShards)
	return id, v, pair, a, err
}

func (n *Node) getSliver(w http.ResponseWriter, r *http.Request) error {
	id, v, pair, a, err := n.sliverTarget(r)
	if err != nil {
		return err
	}
	shard := uint16(blob.ShardIndex(id, v.nShards, pair))
	info, err := n.blobInfo(r.Context(), id)
	if err != nil {
		return err
	}
	if info.Invalid {
		return fmt.Errorf("%w: %s", ErrInvalidBlob, id)
	}
	data, err := n.store.SliverData(r.Context(), shard, id, a)
	if errors.Is(err, nodestore.ErrNotFound) {
		return fmt.Errorf("%w: %s pair %d %s", ErrSliverNotFound, id, pair, a)
	}
	if err != nil {
		return err
	}
	if n.cfg.VerifyReads {
		if err := n.verifyRead(r.Context(), v, nodestore.SliverRef{Shard: shard, BlobID: id, Axis: a}, data); err != nil {
			return err
		}
	}
	return writeBCS(w, data)
}

// verifyRead verifies a stored sliver about to be served; a corrupt one is quarantined (and
// queued for recovery) and reported as not found.
func (n *Node) verifyRead(ctx context.Context, v *epochView, ref nodestore.SliverRef, data []byte) error {
	md, err := n.store.Metadata(ctx, ref.BlobID)
	if err != nil {
		return err
	}
	sl, err := blob.UnmarshalSliverData(data, ref.Axis)
	if err == nil {
		err = n.verify(ctx, v.enc, md, sl)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if err != nil {
		n.quarantineRead(ctx, ref, data, err)
		return fmt.Errorf("%w: %s is corrupt and being repaired", ErrSliverNotFound, ref)
	}
	return nil
}

func (n *Node) sliverStatus(w http.ResponseWriter, r *http.Request) error {
	id, v, pair, a, err := n.sliverTarget(r)
	if err != nil {
		return err
	}
	shard := uint16(blob.ShardIndex(id, v.nShards, pair))
	has, err := n.store.HasSliver(r.Context(), shard, id, a)
	if err != nil {
		return err
	}
	st := api.Nonexistent
	switch {
	case has:
		st = api.Stored
	case n.pending.hasSliver(id, shard, a):
		st = api.Buffered
	}
	writeSuccess(w, http.StatusOK, st)
	return nil
}

func (n *Node) putSliver(w http.ResponseWriter, r *http.Request) error {
	id, v, pair, a, err := n.sliverTarget(r)
	if err != nil {
		return err
	}
	pending, err := queryBool(r, api.QueryPending)
	if err != nil {
		return err
	}
	body, err := n.readBody(r, sliverLimit(v.enc.Params()))
	if err != nil {
		return err
	}
	code, msg, err := n.storeSliver(r.Context(), id, v, pair, a, body, pending, nil)
	if err != nil {
		return err
	}
	writeSuccess(w, code, msg)
	return nil
}

// uploadState caches per-request facts across the slivers of one batch.
type uploadState struct {
	info       *nodestore.BlobInfo
	md         *blob.MetadataWithID
	registered bool
}

// checkSliver runs every check of a sliver upload except its verification and returns the
// decoded sliver, the shard and the metadata to verify it against. done is true if the
// sliver is already held (stored or buffered).
func (n *Node) checkSliver(ctx context.Context, id blob.ID, v *epochView, pair int, a redstuff.Axis,
	body []byte, pending bool, st *uploadState) (sl redstuff.Sliver, shard uint16, done bool, err error) {
	sl, err = blob.UnmarshalSliverData(body, a)
	if err != nil {
		return sl, 0, false, fmt.Errorf("%w: sliver: %w", ErrMalformedBody, err)
	}
	p := v.enc.Params()
	if sl.Index >= v.nShards || p.PairIndex(a, sl.Index) != pair {
		return sl, 0, false, withMeta(fmt.Errorf("%w: %s sliver %d is not in pair %d", ErrSliverIndexMismatch, a, sl.Index, pair),
			"pair", strconv.Itoa(pair), "sliverIndex", strconv.Itoa(sl.Index))
	}
	shard = uint16(blob.ShardIndex(id, v.nShards, pair))
	if !v.owned[shard] {
		return sl, shard, false, withMeta(fmt.Errorf("%w: shard %d (pair %d) in epoch %d", ErrShardNotAssigned, shard, pair, v.epoch),
			"shard", strconv.Itoa(int(shard)), "epoch", strconv.Itoa(int(v.epoch)))
	}
	if st.info == nil {
		info, err := n.blobInfo(ctx, id)
		if err != nil {
			return sl, shard, false, err
		}
		st.info, st.registered = &info, info.IsRegistered(v.epoch)
	}
	if st.info.Invalid {
		return sl, shard, false, fmt.Errorf("%w: %s", ErrInvalidBlob, id)
	}
	if !st.registered && !pending {
		return sl, shard, false, fmt.Errorf("%w: %s", ErrNotRegistered, id)
	}
	if st.md == nil {
		md, err := n.store.Metadata(ctx, id)
		switch {
		case err == nil:
			st.md = md
		case errors.Is(err, nodestore.ErrNotFound):
			if st.md = n.pending.metadata(id); st.md == nil {
				return sl, shard, false, fmt.Errorf("%w: %s", ErrMetadataRequired, id)
			}
		default:
			return sl, shard, false, err
		}
	}
	if st.registered {
		has, err := n.store.HasSliver(ctx, shard, id, a)
		if err != nil || has {
			return sl, shard, has, err
		}
	} else if n.pending.hasSliver(id, shard, a) {
		return sl, shard, true, nil
	}
	return sl, shard, false, nil
}

// verifySliver verifies a sliver against the metadata.
func verifySliver(enc *redstuff.Encoder, md *blob.MetadataWithID, sl redstuff.Sliver) error {
	if err := blob.VerifySliver(enc, md, sl); err != nil {
		return fmt.Errorf("%w: %s sliver %d: %w", ErrInvalidSliver, sl.Axis, sl.Index, err)
	}
	return nil
}

// verify runs verifySliver under the node's verification limit.
func (n *Node) verify(ctx context.Context, enc *redstuff.Encoder, md *blob.MetadataWithID, sl redstuff.Sliver) error {
	select {
	case n.verifySem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-n.verifySem }()
	return verifySliver(enc, md, sl)
}

// storeSliver checks, verifies and stores (or buffers) one sliver upload.
func (n *Node) storeSliver(ctx context.Context, id blob.ID, v *epochView, pair int, a redstuff.Axis,
	body []byte, pending bool, st *uploadState) (int, string, error) {
	if st == nil {
		st = &uploadState{}
	}
	sl, shard, done, err := n.checkSliver(ctx, id, v, pair, a, body, pending, st)
	if err != nil {
		n.m.slivers.WithLabelValues("rejected").Inc()
		return 0, "", err
	}
	if done {
		n.m.slivers.WithLabelValues("duplicate").Inc()
		return http.StatusOK, "sliver already stored", nil
	}
	if err := n.verify(ctx, v.enc, st.md, sl); err != nil {
		n.m.slivers.WithLabelValues("invalid").Inc()
		return 0, "", err
	}
	if !st.registered {
		sl.Data = append([]byte(nil), sl.Data...)
		if _, err := n.pending.putSliver(id, shard, sl, time.Now()); err != nil {
			return 0, "", err
		}
		n.m.pendingBytes.Set(float64(n.pending.size()))
		n.m.slivers.WithLabelValues("buffered").Inc()
		return http.StatusAccepted, "sliver buffered until the blob is registered", nil
	}
	if err := n.store.PutSliverData(ctx, shard, id, a, body); err != nil {
		return 0, "", err
	}
	n.m.slivers.WithLabelValues("stored").Inc()
	return http.StatusCreated, "sliver stored", nil
}

// ---- confirmations ----

func (n *Node) confirmPermanent(w http.ResponseWriter, r *http.Request) error {
	return n.confirm(w, r, protocol.Permanent)
}

func (n *Node) confirmDeletable(w http.ResponseWriter, r *http.Request) error {
	obj, err := protocol.ParseObjectID(r.PathValue("object_id"))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadObjectID, err)
	}
	return n.confirm(w, r, protocol.Deletable(obj))
}

func (n *Node) confirm(w http.ResponseWriter, r *http.Request, pt protocol.PersistenceType) error {
	id, err := pathBlobID(r)
	if err != nil {
		return err
	}
	wait, err := queryBool(r, api.QueryWaitForReg)
	if err != nil {
		return err
	}
	var waitFor time.Duration
	if s := r.URL.Query().Get(api.QueryWaitMillis); s != "" {
		ms, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return fmt.Errorf("%w: %s=%q", ErrBadQuery, api.QueryWaitMillis, s)
		}
		waitFor = time.Duration(ms) * time.Millisecond
	} else if wait {
		waitFor = n.cfg.MaxWaitForRegistration
	}
	if !wait {
		waitFor = 0
	}
	waitFor = min(waitFor, n.cfg.MaxWaitForRegistration)
	deadline := time.Now().Add(waitFor)
	var v *epochView
	for {
		changed := n.waitChange()
		if v, err = n.currentView(); err != nil {
			return err
		}
		err = n.checkRegistered(r.Context(), id, v, pt)
		if err == nil || !errors.Is(err, ErrNotRegistered) || !time.Now().Before(deadline) {
			break
		}
		t := time.NewTimer(time.Until(deadline))
		select {
		case <-changed:
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return r.Context().Err()
		}
		t.Stop()
	}
	if err != nil {
		return err
	}
	missing, err := n.store.MissingSlivers(r.Context(), id, v.shards)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return withMeta(fmt.Errorf("%w: %d of %d slivers missing (first: %s)", ErrMissingSlivers, len(missing), 2*len(v.shards), missing[0]),
			"missing", strconv.Itoa(len(missing)))
	}
	msg := protocol.StorageConfirmation{Epoch: v.epoch, BlobID: id, Persistence: pt}.Encode()
	sig := n.key.Sign(msg)
	kind := "permanent"
	if pt.Deletable {
		kind = "deletable"
	}
	n.m.confirmations.WithLabelValues(kind).Inc()
	writeSuccess(w, http.StatusOK, api.Confirmation{Signed: &api.SignedMessage{SerializedMessage: msg, Signature: sig[:]}})
	return nil
}

// checkRegistered checks that the blob (or, for a deletable confirmation, the blob object) is
// registered in the view's epoch.
func (n *Node) checkRegistered(ctx context.Context, id blob.ID, v *epochView, pt protocol.PersistenceType) error {
	info, err := n.blobInfo(ctx, id)
	if err != nil {
		return err
	}
	if info.Invalid {
		return fmt.Errorf("%w: %s", ErrInvalidBlob, id)
	}
	if !info.IsRegistered(v.epoch) {
		return fmt.Errorf("%w: %s", ErrNotRegistered, id)
	}
	if !pt.Deletable {
		return nil
	}
	b, err := n.cp.BlobObject(ctx, cpapi.ObjectID(pt.ObjectID))
	if errors.Is(err, ErrNoBlobObject) {
		return fmt.Errorf("%w: blob object %s", ErrNotRegistered, pt.ObjectID)
	}
	if err != nil {
		return fmt.Errorf("blob object %s: %w", pt.ObjectID, err)
	}
	if b.BlobID != id || !b.Deletable || b.Storage.End <= v.epoch {
		return fmt.Errorf("%w: blob object %s is not a live deletable object of %s", ErrNotRegistered, pt.ObjectID, id)
	}
	return nil
}

// ---- recovery symbols ----

func (n *Node) recoverySymbols(w http.ResponseWriter, r *http.Request) error {
	select {
	case n.symbolSem <- struct{}{}:
		defer func() { <-n.symbolSem }()
	default:
		return fmt.Errorf("%w: too many recovery symbol requests", ErrBusy)
	}
	id, err := pathBlobID(r)
	if err != nil {
		return err
	}
	v, err := n.currentView()
	if err != nil {
		return err
	}
	md, err := n.store.Metadata(r.Context(), id)
	if errors.Is(err, nodestore.ErrNotFound) {
		return fmt.Errorf("%w: %s", ErrMetadataNotFound, id)
	}
	if err != nil {
		return err
	}
	nShards := len(md.Metadata.Hashes)
	if nShards != v.nShards {
		return fmt.Errorf("%w: metadata has %d shards, committee %d", ErrInvalidMetadata, nShards, v.nShards)
	}
	q := r.URL.Query()
	ids, target, targetType := q[api.QuerySymbolID], q.Get(api.QueryTargetSliver), q.Get(api.QueryTargetType)
	var proofAxis *redstuff.Axis
	if s := q.Get(api.QueryProofAxis); s != "" {
		a, err := blob.ParseAxis(s)
		if err != nil {
			return fmt.Errorf("%w: proofAxis: %w", ErrBadQuery, err)
		}
		proofAxis = &a
	}
	type source struct {
		pair int
		axis redstuff.Axis
	}
	wanted := map[source][]int{}
	var order []source
	add := func(s source, t int) {
		if _, ok := wanted[s]; !ok {
			order = append(order, s)
		}
		wanted[s] = append(wanted[s], t)
	}
	p := v.enc.Params()
	owns := func(pair int) bool { return v.owned[uint16(blob.ShardIndex(id, nShards, pair))] }
	switch {
	case len(ids) > 0 && target == "" && targetType == "":
		if len(ids) > 2*nShards {
			return fmt.Errorf("%w: %d symbol IDs", ErrBadQuery, len(ids))
		}
		for _, s := range ids {
			sid, err := blob.ParseSymbolID(s)
			if err != nil || int(sid.Primary) >= nShards || int(sid.Secondary) >= nShards {
				return fmt.Errorf("%w: id=%q", ErrBadQuery, s)
			}
			primPair, secPair := int(sid.Primary), p.PairIndex(redstuff.Secondary, int(sid.Secondary))
			switch {
			case (proofAxis == nil || *proofAxis == redstuff.Primary) && owns(primPair):
				add(source{primPair, redstuff.Primary}, int(sid.Secondary))
			case (proofAxis == nil || *proofAxis == redstuff.Secondary) && owns(secPair):
				add(source{secPair, redstuff.Secondary}, int(sid.Primary))
			default:
				return fmt.Errorf("%w: the node holds neither sliver of symbol %s", ErrSliverNotFound, s)
			}
		}
	case len(ids) == 0 && target != "" && targetType != "":
		t, err := strconv.ParseUint(target, 10, 16)
		if err != nil || int(t) >= nShards {
			return fmt.Errorf("%w: targetSliver=%q", ErrBadQuery, target)
		}
		ta, err := blob.ParseAxis(targetType)
		if err != nil {
			return fmt.Errorf("%w: targetType: %w", ErrBadQuery, err)
		}
		for _, shard := range v.shards {
			add(source{blob.PairIndex(id, nShards, int(shard)), ta.Other()}, int(t))
		}
	default:
		return fmt.Errorf("%w: give either id=P-S (repeated) or targetSliver and targetType", ErrBadQuery)
	}
	var syms []redstuff.RecoverySymbol
	for _, s := range order {
		shard := uint16(blob.ShardIndex(id, nShards, s.pair))
		out, err := n.sourceSymbols(r.Context(), v, md, shard, s.axis, wanted[s])
		if errors.Is(err, nodestore.ErrNotFound) {
			if len(ids) == 0 {
				continue // serve what the node has
			}
			return fmt.Errorf("%w: %s sliver of pair %d", ErrSliverNotFound, s.axis, s.pair)
		}
		if err != nil {
			return err
		}
		syms = append(syms, out...)
	}
	if len(syms) == 0 {
		return fmt.Errorf("%w: the node holds no source sliver for the request", ErrSliverNotFound)
	}
	b, err := blob.MarshalGeneralRecoverySymbols(syms)
	if err != nil {
		return err
	}
	return writeBCS(w, b)
}

// sourceSymbols returns the recovery symbols for targets of the stored sliver (shard, axis a)
// of blob md.ID, each checked against the metadata: a stored sliver whose symbols do not
// verify is corrupt, and is quarantined (and queued for recovery) instead of served; the
// error then wraps nodestore.ErrNotFound.
func (n *Node) sourceSymbols(ctx context.Context, v *epochView, md *blob.MetadataWithID, shard uint16, a redstuff.Axis,
	targets []int) ([]redstuff.RecoverySymbol, error) {
	sl, raw, err := n.storedSliver(ctx, shard, md.ID, a)
	if err == nil {
		var out []redstuff.RecoverySymbol
		if out, err = v.enc.RecoverySymbols(sl, targets); err == nil {
			// Every symbol's proof leads to the root of the tree over the stored sliver's
			// expansion: it verifies only if the stored sliver hashes to its commitment.
			for _, sym := range out {
				if err = blob.VerifyRecoverySymbol(v.enc, md, sym); err != nil {
					break
				}
			}
			if err == nil {
				return out, nil
			}
		}
	}
	if raw == nil {
		return nil, err
	}
	ref := nodestore.SliverRef{Shard: shard, BlobID: md.ID, Axis: a}
	n.quarantineRead(ctx, ref, raw, fmt.Errorf("serving recovery symbols: %w", err))
	return nil, fmt.Errorf("%w: %s is corrupt and being repaired", nodestore.ErrNotFound, ref)
}

// ---- status and health ----

func (n *Node) blobStatus(w http.ResponseWriter, r *http.Request) error {
	id, err := pathBlobID(r)
	if err != nil {
		return err
	}
	v, err := n.currentView()
	if err != nil {
		return err
	}
	st, err := n.store.BlobStatus(r.Context(), id, v.epoch)
	if err != nil {
		return err
	}
	writeSuccess(w, http.StatusOK, apiBlobStatus(st))
	return nil
}

func apiEventID(e nodestore.EventID) api.EventID {
	return api.EventID{TxDigest: base58(e.TxDigest[:]), EventSeq: strconv.FormatUint(e.Seq, 10)}
}

func apiBlobStatus(st nodestore.BlobStatus) api.BlobStatus {
	var ice *uint32
	if st.HasInitialCertified {
		e := st.InitialCertifiedEpoch
		ice = &e
	}
	counts := api.DeletableCounts{CountDeletableTotal: st.DeletableTotal, CountDeletableCertified: st.DeletableCertified}
	switch st.Kind {
	case nodestore.StatusInvalid:
		return api.BlobStatus{Invalid: &api.InvalidStatus{Event: apiEventID(st.Event)}}
	case nodestore.StatusPermanent:
		return api.BlobStatus{Permanent: &api.PermanentStatus{EndEpoch: st.EndEpoch, IsCertified: st.Certified,
			StatusEvent: apiEventID(st.Event), DeletableCounts: counts, InitialCertifiedEpoch: ice}}
	case nodestore.StatusDeletable:
		return api.BlobStatus{Deletable: &api.DeletableStatus{InitialCertifiedEpoch: ice, DeletableCounts: counts}}
	default:
		return api.BlobStatus{Nonexistent: true}
	}
}

const base58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

// base58 encodes b in Bitcoin's base58 alphabet (Sui's digest form).
func base58(b []byte) string {
	x := new(big.Int).SetBytes(b)
	var out []byte
	mod, radix := new(big.Int), big.NewInt(58)
	for x.Sign() > 0 {
		x.DivMod(x, radix, mod)
		out = append(out, base58Alphabet[mod.Int64()])
	}
	for _, c := range b {
		if c != 0 {
			break
		}
		out = append(out, '1')
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return string(out)
}

func (n *Node) health(w http.ResponseWriter, r *http.Request) error {
	detailed, err := queryBool(r, api.QueryDetailed)
	if err != nil {
		return err
	}
	up := time.Since(n.started)
	n.mu.RLock()
	v, applied, latest := n.view, n.applied, n.latest
	n.mu.RUnlock()
	h := api.ServiceHealthInfo{
		Uptime:      api.Duration{Secs: uint64(up / time.Second), Nanos: uint32(up % time.Second)},
		PublicKey:   base64.StdEncoding.EncodeToString(n.pub[:]),
		NodeStatus:  "Standby",
		SliverBatch: true,
		EventProgress: api.EventProgress{Persisted: applied, Pending: latest - min(latest, applied),
			HighestFinishedEventIndex: applied},
	}
	if applied == 0 {
		h.EventProgress.HighestFinishedEventIndex = 0
	} else {
		h.EventProgress.HighestFinishedEventIndex = applied - 1
	}
	if v != nil {
		h.Epoch = v.epoch
		if len(v.shards) > 0 {
			h.NodeStatus = "Active"
		}
		h.ShardSummary = api.ShardSummary{Owned: len(v.shards), OwnedShardStatus: api.ShardStatusSummary{Ready: len(v.shards)}}
		if detailed {
			d := &api.ShardDetail{Owned: make([]api.ShardStatus, 0, len(v.shards))}
			for _, s := range v.shards {
				d.Owned = append(d.Owned, api.ShardStatus{Shard: s, Status: "ready"})
			}
			h.ShardDetail = d
		}
	}
	writeSuccess(w, http.StatusOK, h)
	return nil
}
