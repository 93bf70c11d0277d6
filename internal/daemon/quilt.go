package daemon

// Quilt routes, as Walrus's client daemon serves them (spec §6, §9):
//
//   - PUT /v1/quilts (publisher): a multipart/form-data body, one part per file whose field
//     name is the patch's identifier, and an optional "_metadata" part holding
//     [{"identifier": ..., "tags": {...}}] (tag values that are not strings are stringified);
//     every query parameter of PUT /v1/blobs plus quilt_version (v1, V1 or 1). The body is
//     bounded by MaxQuiltBodySize (Walrus's --max-quilt-body-size, 100 MiB) → 413. The answer
//     is {"blobStoreResult": ..., "storedQuiltBlobs": [{"identifier", "quiltPatchId"}]}.
//   - GET /v1/blobs/by-quilt-patch-id/{id} and GET /v1/blobs/by-quilt-id/{quilt}/{identifier}
//     (aggregator): one patch, read from only the columns it spans, with the headers of a blob
//     read (ETag: the patch ID), X-Quilt-Patch-Identifier, and the patch's tags as headers when
//     they are allowed attributes (AllowedHeaders; all of them with AllowQuiltPatchTags),
//     valid header names and values (a tag value may hold any character, control characters
//     included: such a tag is not sent), and not one of the headers that frame or secure the
//     response. An identifier with characters other than printable ASCII is sent
//     percent-encoded (RFC 3986) in X-Quilt-Patch-Identifier. A single Range gives 206.
//   - GET /v1/quilts/{quilt_id}/patches (aggregator): [{"identifier", "patch_id", "tags"}].

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"

	api "github.com/floelabs/floe/api/daemon"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/client"
	"github.com/floelabs/floe/quilt"
)

// Quilts is what the quilt routes serve. A Blobs that also implements it (FromClient's does)
// gets the routes.
type Quilts interface {
	// StoreQuilt stores the patches as one quilt.
	StoreQuilt(ctx context.Context, patches []quilt.Patch, p StoreParams) (*api.QuiltStoreResponse, error)
	// QuiltPatch reads one patch by its ID.
	QuiltPatch(ctx context.Context, id quilt.PatchID) (*quilt.Patch, error)
	// QuiltPatchByIdentifier reads the patch of a quilt with the identifier, and its ID.
	QuiltPatchByIdentifier(ctx context.Context, quiltID blob.ID, identifier string) (*quilt.Patch, quilt.PatchID, error)
	// QuiltPatches lists a quilt's patches.
	QuiltPatches(ctx context.Context, quiltID blob.ID) ([]api.QuiltPatchItem, error)
	// QuiltBlobID returns the blob ID the patches' quilt would have (for the blocklist).
	QuiltBlobID(ctx context.Context, patches []quilt.Patch) (blob.ID, error)
}

// ErrQuiltPatchNotFound: the quilt has no such patch, or the blob is not a quilt → 404
// QUILT_PATCH_NOT_FOUND.
var ErrQuiltPatchNotFound = errors.New("daemon: quilt patch not found")

// servesQuilts reports whether b serves the quilt routes.
func servesQuilts(b Blobs) bool {
	_, ok := b.(Quilts)
	return ok
}

// quiltRoutes registers the quilt routes when the Blobs serves quilts.
func (s *Server) quiltRoutes() {
	q, ok := s.cfg.Blobs.(Quilts)
	if !ok {
		return
	}
	if s.cfg.Publisher {
		s.route(api.RouteQuilts, "store-quilt", methods{http.MethodPut: func(w http.ResponseWriter, r *http.Request) { s.storeQuilt(w, r, q) }})
	}
	if s.cfg.Aggregator {
		s.route(api.RouteBlobByQuiltPatchID, "read-quilt-patch", methods{http.MethodGet: func(w http.ResponseWriter, r *http.Request) {
			id, err := quilt.ParsePatchID(r.PathValue("quilt_patch_id"))
			if err != nil {
				writeError(w, badRequest(api.ReasonMalformedRequest, "quilt patch ID %q: %v", r.PathValue("quilt_patch_id"), err))
				return
			}
			s.readPatch(w, r, id.Quilt, func(ctx context.Context) (*quilt.Patch, quilt.PatchID, error) {
				p, err := q.QuiltPatch(ctx, id)
				return p, id, err
			})
		}})
		s.route(api.RouteBlobByQuiltID, "read-quilt-patch-by-identifier", methods{http.MethodGet: func(w http.ResponseWriter, r *http.Request) {
			qid, ok := parseIDArg(w, "quilt ID", r.PathValue("quilt_id"))
			if !ok {
				return
			}
			ident := r.PathValue("identifier")
			s.readPatch(w, r, qid, func(ctx context.Context) (*quilt.Patch, quilt.PatchID, error) {
				return q.QuiltPatchByIdentifier(ctx, qid, ident)
			})
		}})
		s.route(api.RouteQuiltPatches, "list-quilt-patches", methods{http.MethodGet: func(w http.ResponseWriter, r *http.Request) {
			qid, ok := parseIDArg(w, "quilt ID", r.PathValue("quilt_id"))
			if !ok || !noQuery(w, r) {
				return
			}
			release, ok := s.admitRead(w, r, qid)
			if !ok {
				return
			}
			defer release()
			items, err := q.QuiltPatches(r.Context(), qid)
			if err != nil {
				writeError(w, err)
				return
			}
			writeJSON(w, http.StatusOK, items)
		}})
	}
}

// storeQuilt is PUT /v1/quilts: the checks of PUT /v1/blobs, then the multipart body.
func (s *Server) storeQuilt(w http.ResponseWriter, r *http.Request, q Quilts) {
	raw, err := takeQuiltVersion(r.URL.RawQuery)
	if err != nil {
		w.Header().Set("Connection", "close")
		writeError(w, err)
		return
	}
	r.URL.RawQuery = raw
	rb, sq, ok := s.uploadBody(w, r, s.cfg.MaxQuiltBodySize, false)
	if !ok {
		return
	}
	body := rb.data
	patches, err := parseQuiltForm(r.Header.Get("Content-Type"), body)
	if err != nil {
		writeError(w, err)
		return
	}
	if s.cfg.Blocklist.Len() > 0 {
		id, err := q.QuiltBlobID(r.Context(), patches)
		if err == nil {
			err = s.checkBlocked(id)
		}
		if err != nil {
			writeError(w, err)
			return
		}
	}
	release, err := s.pub.acquire(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	defer release()
	res, err := q.StoreQuilt(r.Context(), patches, sq.StoreParams)
	if err != nil {
		s.log.Warn("quilt store failed", "patches", len(patches), "size", len(body), "err", err)
		writeError(w, err)
		return
	}
	if res.BlobStoreResult.MarkedInvalid != nil {
		writeJSON(w, http.StatusInternalServerError, res)
		return
	}
	s.log.Info("stored quilt", "patches", len(patches), "size", len(body), "newly_created", res.BlobStoreResult.NewlyCreated != nil)
	writeJSON(w, http.StatusOK, res)
}

// takeQuiltVersion checks and removes quilt_version (v1, V1 or 1) from a raw query; the rest
// is the publisher's query.
func takeQuiltVersion(raw string) (string, error) {
	var rest []string
	seen := false
	for pair := range strings.SplitSeq(raw, "&") {
		k, v, _ := strings.Cut(pair, "=")
		if k != "quilt_version" {
			rest = append(rest, pair)
			continue
		}
		if seen {
			return "", badRequest(api.ReasonMalformedRequest, "query parameter quilt_version given twice")
		}
		seen = true
		if v != "v1" && v != "V1" && v != "1" {
			return "", badRequest(api.ReasonMalformedRequest, "quilt_version %q: only v1 is supported", v)
		}
	}
	return strings.Join(rest, "&"), nil
}

// quiltMetadataEntry is one entry of the _metadata part.
type quiltMetadataEntry struct {
	Identifier string                     `json:"identifier"`
	Tags       map[string]json.RawMessage `json:"tags"`
}

// parseQuiltForm reads the patches of a multipart/form-data body: one part per file, its field
// name the identifier, and the optional _metadata part with the tags.
func parseQuiltForm(contentType string, body []byte) ([]quilt.Patch, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, badRequest(api.ReasonMalformedRequest, "the body must be multipart/form-data with a boundary, not %q", contentType)
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	var (
		patches []quilt.Patch
		index   = map[string]int{}
		meta    []byte
		hasMeta bool
	)
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, badRequest(api.ReasonMalformedRequest, "multipart body: %v", err)
		}
		name := part.FormName()
		data, err := io.ReadAll(part)
		if err != nil {
			return nil, badRequest(api.ReasonMalformedRequest, "multipart part %q: %v", name, err)
		}
		switch {
		case name == "":
			return nil, badRequest(api.ReasonMalformedRequest, "a multipart part has no form field name (its identifier)")
		case name == api.QuiltMetadataField:
			if hasMeta {
				return nil, badRequest(api.ReasonMalformedRequest, "%s given twice", api.QuiltMetadataField)
			}
			meta, hasMeta = data, true
		default:
			if _, dup := index[name]; dup {
				return nil, badRequest(api.ReasonMalformedRequest, "identifier %q given twice", name)
			}
			if err := quilt.ValidateIdentifier(name); err != nil {
				return nil, badRequest(api.ReasonMalformedRequest, "%v", err)
			}
			index[name] = len(patches)
			patches = append(patches, quilt.Patch{Identifier: name, Data: data})
		}
	}
	if len(patches) == 0 {
		return nil, badRequest(api.ReasonMalformedRequest, "no file in the quilt")
	}
	if hasMeta {
		var entries []quiltMetadataEntry
		dec := json.NewDecoder(bytes.NewReader(meta))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&entries); err != nil {
			return nil, badRequest(api.ReasonMalformedRequest, "%s: %v", api.QuiltMetadataField, err)
		}
		tagged := map[string]bool{}
		for _, e := range entries {
			i, ok := index[e.Identifier]
			if !ok {
				return nil, badRequest(api.ReasonMalformedRequest, "%s names %q, which is not a file of the quilt", api.QuiltMetadataField, e.Identifier)
			}
			if tagged[e.Identifier] {
				return nil, badRequest(api.ReasonMalformedRequest, "%s names %q twice", api.QuiltMetadataField, e.Identifier)
			}
			tagged[e.Identifier] = true
			if len(e.Tags) == 0 {
				continue
			}
			tags := make(map[string]string, len(e.Tags))
			for k, v := range e.Tags {
				var s string
				if json.Unmarshal(v, &s) != nil {
					s = string(compactJSON(v)) // not a string: its JSON text, as Walrus
				}
				tags[k] = s
			}
			patches[i].Tags = tags
		}
	}
	return patches, nil
}

func compactJSON(b []byte) []byte {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return b
	}
	return buf.Bytes()
}

// readPatch serves one patch of quiltID read by get, under an aggregator slot.
func (s *Server) readPatch(w http.ResponseWriter, r *http.Request, quiltID blob.ID, get func(context.Context) (*quilt.Patch, quilt.PatchID, error)) {
	if !noQuery(w, r) {
		return
	}
	release, ok := s.admitRead(w, r, quiltID)
	if !ok {
		return
	}
	defer release()
	p, id, err := get(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	s.servePatch(w, r, p, id)
}

// servePatch writes a patch with a blob read's headers, its identifier and allowed tags.
func (s *Server) servePatch(w http.ResponseWriter, r *http.Request, p *quilt.Patch, id quilt.PatchID) {
	h := w.Header()
	var attrs map[string]string
	if !s.cfg.AllowQuiltPatchTags {
		attrs = patchTags(p.Tags) // filtered by the allowed headers
	}
	sniff := s.setCommonHeaders(w, r, id.Quilt, attrs)
	h.Set("ETag", id.String())
	if s.cfg.AllowQuiltPatchTags {
		for k, v := range patchTags(p.Tags) {
			canon := textproto.CanonicalMIMEHeaderKey(k)
			if _, set := h[canon]; !set {
				h.Set(canon, v)
			}
		}
		sniff = h.Get("Content-Type") == ""
	}
	h.Set(api.HeaderQuiltPatchIdentifier, headerSafe(p.Identifier))
	if sniff {
		h.Set("Content-Type", sniffType(p.Data[:min(len(p.Data), sniffLen)]))
	}
	setContentPolicy(h)
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		for t := range strings.SplitSeq(inm, ",") {
			t = strings.Trim(strings.TrimPrefix(strings.TrimSpace(t), "W/"), `"`)
			if t == id.String() || t == "*" {
				w.WriteHeader(http.StatusNotModified)
				return
			}
		}
	}
	data, code := p.Data, http.StatusOK
	if rh := r.Header.Get("Range"); rh != "" {
		if v := strings.TrimSpace(r.Header.Get("If-Range")); v == "" || strings.Trim(v, `"`) == id.String() {
			br, err := parseRange(rh, uint64(len(p.Data)))
			if err != nil {
				h.Set("Content-Range", fmt.Sprintf("bytes */%d", len(p.Data)))
				writeErrorCode(w, http.StatusRequestedRangeNotSatisfiable, api.ReasonInvalidByteRange, err.Error())
				return
			}
			if br != nil {
				h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", br.start, br.start+br.length-1, len(p.Data)))
				data, code = p.Data[br.start:br.start+br.length], http.StatusPartialContent
			}
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		w.Write(data)
	}
}

// reservedHeaders are never set from a patch's tags: they frame the response or are the
// daemon's own.
var reservedHeaders = map[string]bool{
	"content-length": true, "transfer-encoding": true, "connection": true, "keep-alive": true, "te": true,
	"trailer": true, "upgrade": true, "content-range": true, "accept-ranges": true, "etag": true,
	"cache-control": true, "vary": true, "x-content-type-options": true, "content-security-policy": true,
	"set-cookie": true, "location": true, "access-control-allow-origin": true, "access-control-allow-credentials": true,
	"access-control-allow-methods": true, "access-control-allow-headers": true, "access-control-expose-headers": true,
	strings.ToLower(api.HeaderQuiltPatchIdentifier): true,
}

// patchTags returns the tags that may become headers: lower-case valid names that are not
// reserved, with valid values (no control character but tab).
func patchTags(tags map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range tags {
		name := strings.ToLower(k)
		if !validHeaderName(name) || reservedHeaders[name] || !validHeaderValue(v) {
			continue
		}
		out[name] = strings.TrimSpace(v)
	}
	return out
}

// headerSafe returns s when it is printable ASCII, else s with every other byte (and '%')
// percent-encoded.
func headerSafe(s string) string {
	plain := true
	for i := 0; i < len(s) && plain; i++ {
		plain = s[i] >= 0x20 && s[i] < 0x7f
	}
	if plain {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c < 0x7f && c != '%' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// quiltSDKError wraps a client error of a quilt operation with the daemon's sentinel for it.
func quiltSDKError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, client.ErrQuiltPatchNotFound), errors.Is(err, client.ErrNotQuilt):
		return fmt.Errorf("%w: %w", ErrQuiltPatchNotFound, err)
	case errors.Is(err, quilt.ErrTooLarge):
		return fmt.Errorf("%w: %w", ErrBlobTooLarge, err)
	case errors.Is(err, quilt.ErrInvalidIdentifier), errors.Is(err, quilt.ErrDuplicateIdentifier), errors.Is(err, quilt.ErrTooManyPatches):
		return fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	return sdkError(err)
}

func (s *sdkBlobs) StoreQuilt(ctx context.Context, patches []quilt.Patch, p StoreParams) (*api.QuiltStoreResponse, error) {
	res, err := s.c.StoreQuilt(ctx, patches, storeOptions(p))
	if err != nil {
		if errors.Is(err, client.ErrBlobInvalid) {
			return &api.QuiltStoreResponse{BlobStoreResult: api.BlobStoreResult{MarkedInvalid: &api.MarkedInvalid{}}}, nil
		}
		return nil, quiltSDKError(err)
	}
	out := &api.QuiltStoreResponse{BlobStoreResult: *StoreResultJSON(res.StoreResult), StoredQuiltBlobs: []api.StoredQuiltBlob{}}
	if p.Share && out.BlobStoreResult.NewlyCreated != nil {
		if err := s.c.Share(ctx, res.ObjectID, 0); err != nil {
			return nil, fmt.Errorf("quilt object %s stored, but sharing it failed: %w", res.ObjectID, sdkError(err))
		}
		out.BlobStoreResult.NewlyCreated.SharedBlobObject = res.ObjectID.String()
	}
	for _, pi := range res.Patches {
		out.StoredQuiltBlobs = append(out.StoredQuiltBlobs, api.StoredQuiltBlob{Identifier: pi.Identifier, QuiltPatchID: pi.PatchID.String()})
	}
	return out, nil
}

// StoreQuilt stores through a free store client, as Store does.
func (m *multiBlobs) StoreQuilt(ctx context.Context, patches []quilt.Patch, p StoreParams) (*api.QuiltStoreResponse, error) {
	s, err := m.take(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { m.free <- s }()
	if p.SendObjectTo == nil && !p.Share {
		p.SendObjectTo = m.recipient() // a shared quilt is shared by the sub-wallet instead
	}
	res, err := s.StoreQuilt(ctx, patches, p)
	if err != nil {
		return nil, storeErr(s, err)
	}
	return res, nil
}

func (s *sdkBlobs) QuiltBlobID(ctx context.Context, patches []quilt.Patch) (blob.ID, error) {
	in, err := s.c.Info(ctx)
	if err != nil {
		return blob.ID{}, fmt.Errorf("%w: the number of shards: %w", ErrBlobUnavailable, err)
	}
	q, err := quilt.Encode(in.Params.NShards, patches)
	if err != nil {
		return blob.ID{}, quiltSDKError(err)
	}
	return s.BlobIDOf(ctx, q.Data)
}

func (s *sdkBlobs) QuiltPatch(ctx context.Context, id quilt.PatchID) (*quilt.Patch, error) {
	p, err := s.c.ReadQuiltPatch(ctx, id)
	if err != nil {
		return nil, quiltSDKError(err)
	}
	return &p.Patch, nil
}

func (s *sdkBlobs) QuiltPatchByIdentifier(ctx context.Context, quiltID blob.ID, identifier string) (*quilt.Patch, quilt.PatchID, error) {
	res, err := s.c.ReadQuiltPatches(ctx, quiltID, []string{identifier})
	if err != nil {
		return nil, quilt.PatchID{}, quiltSDKError(err)
	}
	return &res.Patches[0].Patch, res.Patches[0].ID, nil
}

func (s *sdkBlobs) QuiltPatches(ctx context.Context, quiltID blob.ID) ([]api.QuiltPatchItem, error) {
	ps, err := s.c.ListQuiltPatches(ctx, quiltID)
	if err != nil {
		return nil, quiltSDKError(err)
	}
	out := make([]api.QuiltPatchItem, 0, len(ps))
	for _, p := range ps {
		tags := p.Tags
		if tags == nil {
			tags = map[string]string{}
		}
		out = append(out, api.QuiltPatchItem{Identifier: p.Identifier, PatchID: p.PatchID.String(), Tags: tags})
	}
	return out, nil
}
