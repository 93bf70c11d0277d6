package daemon

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	api "github.com/floelabs/floe/api/daemon"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/protocol"
)

// memBlobs is an in-memory Blobs for the handler tests: blob IDs are SHA-256 of the data.
type memBlobs struct {
	mu      sync.Mutex
	blobs   map[blob.ID][]byte
	objects map[protocol.ObjectID]*Object
	// storeErr and readErr, if set, are returned by Store and by reads; failAfter makes
	// Read fail after writing that many bytes.
	storeErr, readErr error
	failAfter         int
	block             chan struct{} // if set, Store waits on it
	lastParams        StoreParams
	reads             []ReadParams // the checks of each Read and ReadRange, in order
	stores            int          // calls of Store
	maxEpochs         uint32
}

func newMem() *memBlobs {
	return &memBlobs{blobs: map[blob.ID][]byte{}, objects: map[protocol.ObjectID]*Object{}, failAfter: -1, maxEpochs: 53}
}

func (m *memBlobs) MaxEpochsAhead(context.Context) (uint32, error) { return m.maxEpochs, nil }

// BlobIDOf is the test store's blob ID: SHA-256 of the data.
func (m *memBlobs) BlobIDOf(_ context.Context, data []byte) (blob.ID, error) {
	return blob.ID(sha256.Sum256(data)), nil
}

func (m *memBlobs) storeCalls() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stores
}

func (m *memBlobs) put(data []byte) blob.ID {
	id := blob.ID(sha256.Sum256(data))
	m.mu.Lock()
	m.blobs[id] = data
	m.mu.Unlock()
	return id
}

func (m *memBlobs) Store(ctx context.Context, data []byte, p StoreParams) (*api.BlobStoreResult, error) {
	m.mu.Lock()
	m.stores++
	m.mu.Unlock()
	if m.block != nil {
		select {
		case <-m.block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if m.storeErr != nil {
		return nil, m.storeErr
	}
	id := blob.ID(sha256.Sum256(data))
	m.mu.Lock()
	_, had := m.blobs[id]
	m.mu.Unlock()
	if had && !p.Force {
		return &api.BlobStoreResult{AlreadyCertified: &api.AlreadyCertified{BlobID: id.String(), Object: "0x01", EndEpoch: 3}}, nil
	}
	m.mu.Lock()
	m.lastParams = p
	m.mu.Unlock()
	m.put(data)
	ce := uint32(1)
	return &api.BlobStoreResult{NewlyCreated: &api.NewlyCreated{BlobObject: api.BlobObject{ID: "0x02", BlobID: id.String(),
		Size: uint64(len(data)), EncodingType: "RS2", CertifiedEpoch: &ce, Storage: api.StorageObject{EndEpoch: 1 + p.Epochs}, Deletable: !p.Permanent},
		ResourceOperation: api.ResourceOperation{RegisterFromScratch: &api.RegisterFromScratch{EncodedLength: 100, EpochsAhead: p.Epochs}}, Cost: 7}}, nil
}

func (m *memBlobs) get(id blob.ID) ([]byte, error) {
	if m.readErr != nil {
		return nil, m.readErr
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blobs[id]
	if !ok {
		return nil, fmt.Errorf("mem: %w", ErrBlobNotFound)
	}
	return b, nil
}

func (m *memBlobs) BlobSize(_ context.Context, id blob.ID) (uint64, error) {
	m.mu.Lock()
	b, ok := m.blobs[id]
	m.mu.Unlock()
	if !ok {
		return 0, fmt.Errorf("mem: %w", ErrBlobNotFound)
	}
	return uint64(len(b)), nil
}

// readWith records the checks of a read.
func (m *memBlobs) readWith(p ReadParams) {
	m.mu.Lock()
	m.reads = append(m.reads, p)
	m.mu.Unlock()
}

// lastReads returns the checks of the reads so far and forgets them.
func (m *memBlobs) lastReads() []ReadParams {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.reads
	m.reads = nil
	return r
}

func (m *memBlobs) Read(_ context.Context, id blob.ID, w io.Writer, p ReadParams) (int64, error) {
	m.readWith(p)
	b, err := m.get(id)
	if err != nil {
		return 0, err
	}
	if m.failAfter >= 0 {
		n, _ := w.Write(b[:m.failAfter])
		return int64(n), fmt.Errorf("mem: %w", ErrBlobUnavailable)
	}
	// Write in pieces, as a streaming reader does (small ones for small blobs, to exercise the
	// sniffing buffer).
	piece := 100
	if len(b) > 1<<16 {
		piece = 1 << 16
	}
	var n int64
	for len(b) > 0 {
		k := min(len(b), piece)
		if _, err := w.Write(b[:k]); err != nil {
			return n, err
		}
		n += int64(k)
		b = b[k:]
	}
	return n, nil
}

func (m *memBlobs) ReadRange(_ context.Context, id blob.ID, off, length uint64, w io.Writer, p ReadParams) error {
	m.readWith(p)
	b, err := m.get(id)
	if err != nil {
		return err
	}
	if off+length > uint64(len(b)) {
		return fmt.Errorf("mem: range beyond the blob")
	}
	_, err = w.Write(b[off : off+length])
	return err
}

func (m *memBlobs) Object(_ context.Context, id protocol.ObjectID) (*Object, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objects[id]
	if !ok {
		return nil, fmt.Errorf("mem: %w", ErrBlobNotFound)
	}
	return o, nil
}

func newTestServer(t *testing.T, m *memBlobs, mod func(*Config)) *httptest.Server {
	t.Helper()
	cfg := Config{Publisher: true, Aggregator: true, Blobs: m}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv
}

type result struct {
	code int
	hdr  http.Header
	body []byte
}

func do(t *testing.T, method, url string, body []byte, hdr map[string]string) result {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, url, err)
	}
	return result{resp.StatusCode, resp.Header, b}
}

// wantError checks an AIP-193 error response.
func wantError(t *testing.T, r result, code int, reason string) {
	t.Helper()
	wantErrorDomain(t, r, code, reason, api.ErrorDomain)
}

// wantErrorDomain checks an AIP-193 error response of a domain.
func wantErrorDomain(t *testing.T, r result, code int, reason, domain string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("status %d, want %d; body %s", r.code, code, r.body)
	}
	var e api.ErrorResponse
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("error body %q: %v", r.body, err)
	}
	if e.Error.Code != code || len(e.Error.Details) != 1 || e.Error.Details[0].Reason != reason || e.Error.Details[0].Domain != domain {
		t.Fatalf("error body %s, want code %d reason %s", r.body, code, reason)
	}
}

func TestStore(t *testing.T) {
	m := newMem()
	srv := newTestServer(t, m, func(c *Config) { c.MaxBodySize = 1000 })
	data := []byte("hello floe")
	r := do(t, "PUT", srv.URL+"/v1/blobs?epochs=3&permanent=true", data, nil)
	if r.code != 200 {
		t.Fatalf("store: %d %s", r.code, r.body)
	}
	var raw map[string]map[string]any
	if err := json.Unmarshal(r.body, &raw); err != nil {
		t.Fatal(err)
	}
	nc, ok := raw["newlyCreated"]
	if !ok || len(raw) != 1 {
		t.Fatalf("want only newlyCreated: %s", r.body)
	}
	bo := nc["blobObject"].(map[string]any)
	for _, k := range []string{"id", "registeredEpoch", "blobId", "size", "encodingType", "certifiedEpoch", "storage", "deletable"} {
		if _, ok := bo[k]; !ok {
			t.Errorf("blobObject has no %q: %s", k, r.body)
		}
	}
	if _, ok := nc["resourceOperation"].(map[string]any)["registerFromScratch"]; !ok {
		t.Errorf("no registerFromScratch: %s", r.body)
	}
	if m.lastParams.Epochs != 3 || !m.lastParams.Permanent || m.lastParams.Force {
		t.Errorf("params %+v", m.lastParams)
	}
	r = do(t, "PUT", srv.URL+"/v1/blobs", data, nil)
	var res api.BlobStoreResult
	if err := json.Unmarshal(r.body, &res); err != nil || res.AlreadyCertified == nil || res.NewlyCreated != nil {
		t.Fatalf("second store: %s %v", r.body, err)
	}
	r = do(t, "PUT", srv.URL+"/v1/blobs?force=true&epochs=2", data, nil)
	if err := json.Unmarshal(r.body, &res); err != nil || res.NewlyCreated == nil || m.lastParams.Epochs != 2 || m.lastParams.Permanent {
		t.Fatalf("forced store: %s %v %+v", r.body, err, m.lastParams)
	}
	addr := "0x" + strings.Repeat("ab", 32)
	if r = do(t, "PUT", srv.URL+"/v1/blobs?force=true&send_object_to="+addr, data, nil); r.code != 200 || m.lastParams.SendObjectTo == nil || m.lastParams.SendObjectTo.String() != addr {
		t.Fatalf("send_object_to: %d %s %+v", r.code, r.body, m.lastParams)
	}
	if r = do(t, "PUT", srv.URL+"/v1/blobs?force=true&permanent=true&share=true", data, nil); r.code != 200 || !m.lastParams.Share || m.lastParams.SendObjectTo != nil {
		t.Fatalf("share: %d %s %+v", r.code, r.body, m.lastParams)
	}

	for _, tc := range []struct {
		query  string
		reason string
	}{
		{"color=blue", api.ReasonMalformedRequest},
		{"epochs=0", api.ReasonMalformedRequest},
		{"epochs=x", api.ReasonMalformedRequest},
		{"epochs=4294967296", api.ReasonMalformedRequest},
		{"permanent=1", api.ReasonMalformedRequest},
		{"deletable=true&permanent=true", api.ReasonInvalidBlobPersistence},
		{"encoding_type=RS", api.ReasonMalformedRequest},
		{"send_object_to=0x12", api.ReasonMalformedRequest},
		{"share=true", api.ReasonMalformedRequest},
		{"share=true&permanent=true&send_object_to=0x" + strings.Repeat("ab", 32), api.ReasonMalformedRequest},
		{"share=yes&permanent=true", api.ReasonMalformedRequest},
		{"epochs=1&epochs=2", api.ReasonMalformedRequest},
	} {
		wantError(t, do(t, "PUT", srv.URL+"/v1/blobs?"+tc.query, data, nil), 400, tc.reason)
	}
	wantError(t, do(t, "PUT", srv.URL+"/v1/blobs", make([]byte, 1001), nil), 413, api.ReasonPayloadTooLarge)
	// A body without Content-Length (chunked) is cut at the limit too.
	req, _ := http.NewRequest("PUT", srv.URL+"/v1/blobs", io.MultiReader(bytes.NewReader(make([]byte, 600)), bytes.NewReader(make([]byte, 600))))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	wantError(t, result{resp.StatusCode, resp.Header, b}, 413, api.ReasonPayloadTooLarge)
	if r := do(t, "PUT", srv.URL+"/v1/blobs", make([]byte, 1000), nil); r.code != 200 {
		t.Fatalf("a body at the limit: %d %s", r.code, r.body)
	}

	for _, tc := range []struct {
		err    error
		code   int
		reason string
	}{
		{fmt.Errorf("x: %w", ErrInsufficientConfirmations), 504, api.ReasonInsufficientConfirmations},
		{fmt.Errorf("x: %w", ErrBlobTooLarge), 413, api.ReasonBlobTooLarge},
		{fmt.Errorf("x: %w", ErrBadRequest), 400, api.ReasonMalformedRequest},
		{fmt.Errorf("x"), 500, api.ReasonInternal},
	} {
		m.storeErr = tc.err
		wantError(t, do(t, "PUT", srv.URL+"/v1/blobs", data, nil), tc.code, tc.reason)
	}
}

func TestRead(t *testing.T) {
	m := newMem()
	srv := newTestServer(t, m, nil)
	data := bytes.Repeat([]byte("0123456789"), 100) // 1000 bytes of text
	id := m.put(data)
	png := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 600)...)
	pngID := m.put(png)
	empty := m.put(nil)
	u := srv.URL + "/v1/blobs/" + id.String()

	r := do(t, "GET", u, nil, nil)
	if r.code != 200 || !bytes.Equal(r.body, data) {
		t.Fatalf("GET: %d, %d bytes", r.code, len(r.body))
	}
	for k, v := range map[string]string{"ETag": id.String(), "X-Content-Type-Options": "nosniff",
		"Cache-Control": "public, max-age=86400, stale-while-revalidate=3600", "Content-Length": "1000",
		"Content-Type": "text/plain; charset=utf-8", "Access-Control-Allow-Origin": "*"} {
		if got := r.hdr.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	if got := do(t, "GET", srv.URL+"/v1/blobs/"+pngID.String(), nil, nil).hdr.Get("Content-Type"); got != "image/png" {
		t.Errorf("sniffed %q, want image/png", got)
	}
	if got := do(t, "GET", u, nil, map[string]string{"Accept": "application/x-floe"}).hdr.Get("Content-Type"); got != "application/x-floe" {
		t.Errorf("mirrored Accept: %q", got)
	}
	if got := do(t, "GET", u, nil, map[string]string{"Accept": "*/*", "Content-Type": "video/mp4"}).hdr.Get("Content-Type"); got != "video/mp4" {
		t.Errorf("mirrored Content-Type: %q", got)
	}
	r = do(t, "GET", srv.URL+"/v1/blobs/"+empty.String(), nil, nil)
	if r.code != 200 || len(r.body) != 0 || r.hdr.Get("Content-Length") != "0" {
		t.Errorf("empty blob: %d %q %v", r.code, r.body, r.hdr)
	}

	h := do(t, "HEAD", u, nil, nil)
	if h.code != 200 || len(h.body) != 0 || h.hdr.Get("Content-Length") != "1000" || h.hdr.Get("ETag") != id.String() || h.hdr.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("HEAD: %d %v", h.code, h.hdr)
	}
	if r := do(t, "GET", u, nil, map[string]string{"If-None-Match": `"` + id.String() + `"`}); r.code != 304 {
		t.Errorf("If-None-Match: %d", r.code)
	}

	text := string(data)
	for _, tc := range []struct {
		rh, ifRange string
		code        int
		body, cr    string
	}{
		{"bytes=10-19", "", 206, text[10:20], "bytes 10-19/1000"},
		{"bytes=995-2000", "", 206, text[995:], "bytes 995-999/1000"},
		{"bytes=990-", "", 206, text[990:], "bytes 990-999/1000"},
		{"bytes=-10", "", 206, text[990:], "bytes 990-999/1000"},
		{"bytes=-5000", "", 206, text, "bytes 0-999/1000"},
		{"Bytes=0-0", "", 206, text[:1], "bytes 0-0/1000"},
		{"bytes=999-999", `"` + id.String() + `"`, 206, text[999:], "bytes 999-999/1000"},
		// Ignored (RFC 9110 lets a server ignore Range): the whole blob.
		{"bytes=0-1,5-6", "", 200, text, ""},
		{"bytes=9-3", "", 200, text, ""},
		{"items=0-1", "", 200, text, ""},
		{"bytes=a-1", "", 200, text, ""},
		{"bytes=--1", "", 200, text, ""},
		{"bytes=0-1", `"other"`, 200, text, ""},
		{"bytes=0-1", "Tue, 01 Dec 2026 00:00:00 GMT", 200, text, ""},
	} {
		h := map[string]string{"Range": tc.rh}
		if tc.ifRange != "" {
			h["If-Range"] = tc.ifRange
		}
		r := do(t, "GET", u, nil, h)
		if r.code != tc.code || string(r.body) != tc.body || r.hdr.Get("Content-Range") != tc.cr || r.hdr.Get("Content-Length") != fmt.Sprint(len(tc.body)) {
			t.Errorf("Range %q If-Range %q: %d %v, %d bytes; want %d %q, %d bytes", tc.rh, tc.ifRange, r.code, r.hdr, len(r.body), tc.code, tc.cr, len(tc.body))
		}
	}
	for _, rh := range []string{"bytes=1000-1001", "bytes=1000-", "bytes=-0", "bytes=5000-6000"} {
		r := do(t, "GET", u, nil, map[string]string{"Range": rh})
		wantError(t, r, 416, api.ReasonInvalidByteRange)
		if r.hdr.Get("Content-Range") != "bytes */1000" {
			t.Errorf("%s: Content-Range %q", rh, r.hdr.Get("Content-Range"))
		}
	}
	if h := do(t, "HEAD", u, nil, map[string]string{"Range": "bytes=-10"}); h.code != 206 || h.hdr.Get("Content-Length") != "10" || h.hdr.Get("Content-Range") != "bytes 990-999/1000" {
		t.Errorf("HEAD with a suffix range: %d %v", h.code, h.hdr)
	}
	if r := do(t, "GET", srv.URL+"/v1/blobs/"+empty.String(), nil, map[string]string{"Range": "bytes=-5"}); r.code != 200 || len(r.body) != 0 {
		t.Errorf("suffix range of an empty blob: %d %q", r.code, r.body)
	}
	if r := do(t, "GET", srv.URL+"/v1/blobs/"+empty.String(), nil, map[string]string{"Range": "bytes=0-"}); r.code != 416 || r.hdr.Get("Content-Range") != "bytes */0" {
		t.Errorf("range of an empty blob: %d %v", r.code, r.hdr)
	}
	r = do(t, "GET", u+"/byte-range?start=990&length=10", nil, nil)
	if r.code != 200 || string(r.body) != "0123456789" {
		t.Errorf("byte-range: %d %q", r.code, r.body)
	}
	for _, q := range []string{"start=990&length=11", "start=1000&length=1", "start=1", "length=1", "start=0&length=0", "start=-1&length=2"} {
		wantError(t, do(t, "GET", u+"/byte-range?"+q, nil, nil), 400, api.ReasonInvalidByteRange)
	}

	missing := blob.ID{1}
	wantError(t, do(t, "GET", srv.URL+"/v1/blobs/"+missing.String(), nil, nil), 404, api.ReasonBlobNotFound)
	if r := do(t, "HEAD", srv.URL+"/v1/blobs/"+missing.String(), nil, nil); r.code != 404 {
		t.Errorf("HEAD of a missing blob: %d", r.code)
	}
	wantError(t, do(t, "GET", srv.URL+"/v1/blobs/not-a-blob-id", nil, nil), 400, api.ReasonMalformedRequest)
	m.readErr = fmt.Errorf("x: %w", ErrBlobUnavailable)
	wantError(t, do(t, "GET", u, nil, nil), 503, api.ReasonBlobUnavailable)
	m.readErr = nil

	// A failure after the first bytes aborts the connection: the client sees an error, never
	// a short body that looks complete.
	m.failAfter = 600
	if resp, err := http.Get(u); err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			t.Errorf("failure mid-stream: status %d and a complete body", resp.StatusCode)
		}
	}
}

func TestByObjectID(t *testing.T) {
	m := newMem()
	srv := newTestServer(t, m, nil)
	id := m.put([]byte("<html><body>hi</body></html>"))
	oid := protocol.ObjectID{9}
	m.objects[oid] = &Object{BlobID: id, Attributes: map[string]string{"Content-Type": "text/html",
		"content-disposition": "inline", "x-secret": "no", "link": "bad\nvalue", "etag": "overridden?"}}
	r := do(t, "GET", srv.URL+"/v1/blobs/by-object-id/"+oid.String(), nil, nil)
	if r.code != 200 || string(r.body) != "<html><body>hi</body></html>" {
		t.Fatalf("by-object-id: %d %s", r.code, r.body)
	}
	if r.hdr.Get("Content-Type") != "text/html" || r.hdr.Get("Content-Disposition") != "inline" || r.hdr.Get("X-Secret") != "" ||
		r.hdr.Get("Link") != "" || r.hdr.Get("ETag") != id.String() {
		t.Errorf("headers %v", r.hdr)
	}
	// A mirrored Accept wins over the attribute.
	if got := do(t, "GET", srv.URL+"/v1/blobs/by-object-id/"+oid.String(), nil, map[string]string{"Accept": "text/plain"}).hdr.Get("Content-Type"); got != "text/plain" {
		t.Errorf("Accept vs attribute: %q", got)
	}
	wantError(t, do(t, "GET", srv.URL+"/v1/blobs/by-object-id/"+protocol.ObjectID{8}.String(), nil, nil), 404, api.ReasonBlobNotFound)
	wantError(t, do(t, "GET", srv.URL+"/v1/blobs/by-object-id/zz", nil, nil), 400, api.ReasonMalformedRequest)
}

func TestServiceRoutes(t *testing.T) {
	srv := newTestServer(t, newMem(), nil)
	if r := do(t, "GET", srv.URL+"/status", nil, nil); r.code != 200 || string(r.body) != "OK" {
		t.Errorf("/status: %d %q", r.code, r.body)
	}
	r := do(t, "GET", srv.URL+api.RouteOpenAPISpec, nil, nil)
	var doc struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil || doc.OpenAPI == "" {
		t.Fatalf("%s: %v %s", api.RouteOpenAPISpec, err, r.body)
	}
	for _, p := range []string{api.RouteBlobs, api.RouteBlob, api.RouteBlobByteRange, api.RouteBlobByObjectID, api.RouteStatus, api.RouteBlobStream, api.RouteBlobsConcat} {
		if _, ok := doc.Paths[p]; !ok {
			t.Errorf("OpenAPI has no %s", p)
		}
	}
	wantError(t, do(t, "GET", srv.URL+"/nowhere", nil, nil), 404, api.ReasonNotFound)

	// An aggregator alone does not store.
	agg := newTestServer(t, newMem(), func(c *Config) { c.Publisher = false })
	if r := do(t, "PUT", agg.URL+"/v1/blobs", []byte("x"), nil); r.code == 200 {
		t.Errorf("aggregator stored a blob")
	}
}

func TestOverload(t *testing.T) {
	m := newMem()
	m.block = make(chan struct{})
	s, err := New(Config{Publisher: true, Blobs: m, PublisherConcurrent: 1, PublisherBuffered: 1})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	codes := make(chan int, 2)
	for i := range 2 {
		go func() {
			r := do(t, "PUT", srv.URL+"/v1/blobs", []byte{byte(i)}, nil)
			codes <- r.code
		}()
	}
	// Wait until one request runs and one waits in the buffer; the third is refused at once.
	for len(s.pub.queue) < 2 {
		time.Sleep(time.Millisecond)
	}
	r := do(t, "PUT", srv.URL+"/v1/blobs", []byte("third"), nil)
	wantError(t, r, 429, api.ReasonTooManyRequests)
	if r.hdr.Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After: %v", r.hdr)
	}
	close(m.block)
	for range 2 {
		if c := <-codes; c != 200 {
			t.Errorf("queued request: %d", c)
		}
	}
	if r := do(t, "PUT", srv.URL+"/v1/blobs", []byte("fourth"), nil); r.code != 200 {
		t.Errorf("after the load: %d %s", r.code, r.body)
	}
}
