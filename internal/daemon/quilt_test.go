package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	api "github.com/floelabs/floe/api/daemon"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/protocol"
	"github.com/floelabs/floe/quilt"
	"github.com/floelabs/floe/redstuff"
)

// memQuilts serves quilts from memory, built with the real quilt encoder (quilt and patch IDs
// are real); its plain-blob methods are not used by these tests. The end-to-end tests in
// internal/devnet/e2e serve the same routes from a real network.
type memQuilts struct {
	mu     sync.Mutex
	quilts map[blob.ID]*quilt.Quilt
	last   []quilt.Patch
	params StoreParams
}

var errUnused = errors.New("not used by the quilt tests")

func (m *memQuilts) Store(context.Context, []byte, StoreParams) (*api.BlobStoreResult, error) {
	return nil, errUnused
}
func (m *memQuilts) BlobSize(context.Context, blob.ID) (uint64, error) { return 0, errUnused }
func (m *memQuilts) Read(context.Context, blob.ID, io.Writer, ReadParams) (int64, error) {
	return 0, errUnused
}
func (m *memQuilts) ReadRange(context.Context, blob.ID, uint64, uint64, io.Writer, ReadParams) error {
	return errUnused
}
func (m *memQuilts) Object(context.Context, protocol.ObjectID) (*Object, error) {
	return nil, errUnused
}
func (m *memQuilts) MaxEpochsAhead(context.Context) (uint32, error) { return 53, nil }

const memShards = 10

func (m *memQuilts) StoreQuilt(_ context.Context, patches []quilt.Patch, p StoreParams) (*api.QuiltStoreResponse, error) {
	q, err := quilt.Encode(memShards, patches)
	if err != nil {
		return nil, quiltSDKError(err)
	}
	enc, err := redstuff.New(memShards)
	if err != nil {
		return nil, err
	}
	md, err := q.Metadata(enc)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.quilts[md.ID] = q
	m.last, m.params = patches, p
	m.mu.Unlock()
	res := &api.QuiltStoreResponse{BlobStoreResult: api.BlobStoreResult{NewlyCreated: &api.NewlyCreated{
		BlobObject: api.BlobObject{ID: "0x02", BlobID: md.ID.String(), Size: uint64(len(q.Data)), EncodingType: "RS2"}}}}
	for i, pid := range q.Index.PatchIDs(md.ID) {
		res.StoredQuiltBlobs = append(res.StoredQuiltBlobs, api.StoredQuiltBlob{Identifier: q.Index.Patches[i].Identifier, QuiltPatchID: pid.String()})
	}
	return res, nil
}

func (m *memQuilts) get(id blob.ID) (*quilt.Quilt, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	q, ok := m.quilts[id]
	if !ok {
		return nil, fmt.Errorf("%w: no quilt %s", ErrBlobNotFound, id)
	}
	return q, nil
}

func (m *memQuilts) QuiltPatch(_ context.Context, id quilt.PatchID) (*quilt.Patch, error) {
	q, err := m.get(id.Quilt)
	if err != nil {
		return nil, err
	}
	e, ok := q.Index.LookupID(id.Patch)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrQuiltPatchNotFound, id)
	}
	return q.Patch(e)
}

func (m *memQuilts) QuiltPatchByIdentifier(_ context.Context, qid blob.ID, ident string) (*quilt.Patch, quilt.PatchID, error) {
	q, err := m.get(qid)
	if err != nil {
		return nil, quilt.PatchID{}, err
	}
	e, ok := q.Index.Lookup(ident)
	if !ok {
		return nil, quilt.PatchID{}, fmt.Errorf("%w: %q", ErrQuiltPatchNotFound, ident)
	}
	p, err := q.Patch(e)
	return p, quilt.PatchID{Quilt: qid, Patch: e.InternalID()}, err
}

func (m *memQuilts) QuiltBlobID(_ context.Context, patches []quilt.Patch) (blob.ID, error) {
	q, err := quilt.Encode(memShards, patches)
	if err != nil {
		return blob.ID{}, quiltSDKError(err)
	}
	enc, err := redstuff.New(memShards)
	if err != nil {
		return blob.ID{}, err
	}
	md, err := q.Metadata(enc)
	if err != nil {
		return blob.ID{}, err
	}
	return md.ID, nil
}

func (m *memQuilts) QuiltPatches(_ context.Context, qid blob.ID) ([]api.QuiltPatchItem, error) {
	q, err := m.get(qid)
	if err != nil {
		return nil, err
	}
	var out []api.QuiltPatchItem
	for i, pid := range q.Index.PatchIDs(qid) {
		tags := q.Index.Patches[i].Tags
		if tags == nil {
			tags = map[string]string{}
		}
		out = append(out, api.QuiltPatchItem{Identifier: q.Index.Patches[i].Identifier, PatchID: pid.String(), Tags: tags})
	}
	return out, nil
}

func newQuiltServer(t *testing.T, mod func(*Config)) (*httptest.Server, *memQuilts) {
	t.Helper()
	m := &memQuilts{quilts: map[blob.ID]*quilt.Quilt{}}
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
	return srv, m
}

type formPart struct{ name, data string }

// multipartBody builds a multipart/form-data body as curl -F does.
func multipartBody(t *testing.T, parts []formPart) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		var w io.Writer
		var err error
		if p.name == api.QuiltMetadataField {
			w, err = mw.CreateFormField(p.name)
		} else {
			w, err = mw.CreateFormFile(p.name, "file-"+p.name)
		}
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, p.data)
	}
	mw.Close()
	return buf.Bytes(), mw.FormDataContentType()
}

func request(t *testing.T, method, u string, body []byte, hdr map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func wantReason(t *testing.T, code int, body []byte, wantCode int, reason string) {
	t.Helper()
	var e api.ErrorResponse
	if code != wantCode || json.Unmarshal(body, &e) != nil || len(e.Error.Details) == 0 || e.Error.Details[0].Reason != reason {
		t.Fatalf("got %d %s, want %d %s", code, body, wantCode, reason)
	}
}

func TestQuiltRoutes(t *testing.T) {
	srv, m := newQuiltServer(t, nil)
	files := []formPart{
		{"readme", "hello quilt"},
		{"logo-2025", "\x89PNG not really"},
		{"dir/page.html", "<h1>page</h1>"},
		{"caf\u00e9", "unicode name"},
		{api.QuiltMetadataField, `[{"identifier": "logo-2025", "tags": {"content-type": "image/png", "x-custom": "v", "version": 1.5, "evil": "a\r\nSet-Cookie: x=1", "content-length": "1"}},
			{"identifier": "readme", "tags": {"creator": "walrus"}}]`},
	}
	body, ct := multipartBody(t, files)
	code, _, out := request(t, "PUT", srv.URL+"/v1/quilts?epochs=5&quilt_version=v1&permanent=true", body, map[string]string{"Content-Type": ct})
	if code != 200 {
		t.Fatalf("PUT /v1/quilts: %d %s", code, out)
	}
	var res api.QuiltStoreResponse
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	if res.BlobStoreResult.NewlyCreated == nil || len(res.StoredQuiltBlobs) != 4 || m.params.Epochs != 5 || !m.params.Permanent {
		t.Fatalf("store answer %s, params %+v", out, m.params)
	}
	// The wire form is Walrus's.
	if !strings.Contains(string(out), `"storedQuiltBlobs":[{"identifier":"caf`) || !strings.Contains(string(out), `"quiltPatchId":"`) {
		t.Fatalf("store answer %s", out)
	}
	if got := m.last[1].Tags; got["version"] != "1.5" || got["content-type"] != "image/png" || m.last[0].Tags["creator"] != "walrus" {
		t.Fatalf("tags %v %v", m.last[1].Tags, m.last[0].Tags)
	}
	ids := map[string]string{}
	for _, p := range res.StoredQuiltBlobs {
		ids[p.Identifier] = p.QuiltPatchID
	}
	quiltID := res.BlobStoreResult.NewlyCreated.BlobObject.BlobID

	// By patch ID: tags filtered by the allowed headers; control characters never.
	code, hdr, got := request(t, "GET", srv.URL+"/v1/blobs/by-quilt-patch-id/"+ids["logo-2025"], nil, nil)
	if code != 200 || string(got) != "\x89PNG not really" {
		t.Fatalf("patch read: %d %q", code, got)
	}
	if hdr.Get("Content-Type") != "image/png" || hdr.Get(api.HeaderQuiltPatchIdentifier) != "logo-2025" || hdr.Get("ETag") != ids["logo-2025"] ||
		hdr.Get("X-Custom") != "" || hdr.Get("Evil") != "" || hdr.Get("Set-Cookie") != "" || hdr.Get("Content-Length") != fmt.Sprint(len(got)) ||
		hdr.Get("X-Content-Type-Options") != "nosniff" || hdr.Get("Cache-Control") == "" {
		t.Fatalf("patch read headers: %v", hdr)
	}
	// By quilt ID and identifier, with a slash and a non-ASCII identifier.
	code, hdr, got = request(t, "GET", srv.URL+"/v1/blobs/by-quilt-id/"+quiltID+"/"+url.PathEscape("dir/page.html"), nil, nil)
	if code != 200 || string(got) != "<h1>page</h1>" || hdr.Get(api.HeaderQuiltPatchIdentifier) != "dir/page.html" {
		t.Fatalf("read by identifier: %d %q %v", code, got, hdr)
	}
	// The page is HTML: sandboxed on the aggregator's origin.
	if hdr.Get("Content-Security-Policy") != "sandbox" {
		t.Fatalf("an HTML patch is not sandboxed: %v", hdr)
	}
	code, hdr, got = request(t, "GET", srv.URL+"/v1/blobs/by-quilt-id/"+quiltID+"/"+url.PathEscape("caf\u00e9"), nil, nil)
	if code != 200 || string(got) != "unicode name" || hdr.Get(api.HeaderQuiltPatchIdentifier) != "caf%C3%A9" {
		t.Fatalf("non-ASCII identifier: %d %q %v", code, got, hdr)
	}
	// Range and conditional requests.
	code, hdr, got = request(t, "GET", srv.URL+"/v1/blobs/by-quilt-patch-id/"+ids["readme"], nil, map[string]string{"Range": "bytes=6-"})
	if code != 206 || string(got) != "quilt" || hdr.Get("Content-Range") != "bytes 6-10/11" {
		t.Fatalf("range: %d %q %v", code, got, hdr)
	}
	if code, _, _ := request(t, "GET", srv.URL+"/v1/blobs/by-quilt-patch-id/"+ids["readme"], nil, map[string]string{"If-None-Match": `"` + ids["readme"] + `"`}); code != 304 {
		t.Fatalf("If-None-Match: %d", code)
	}
	// The patch list, snake_case patch_id and tags always present.
	code, _, got = request(t, "GET", srv.URL+"/v1/quilts/"+quiltID+"/patches", nil, nil)
	var items []api.QuiltPatchItem
	if code != 200 || json.Unmarshal(got, &items) != nil || len(items) != 4 || !strings.Contains(string(got), `"patch_id"`) || !strings.Contains(string(got), `"tags":{}`) {
		t.Fatalf("patch list: %d %s", code, got)
	}
	// The OpenAPI document names the routes and is still JSON.
	code, _, got = request(t, "GET", srv.URL+api.RouteOpenAPISpec, nil, nil)
	if code != 200 || !json.Valid(got) || !strings.Contains(string(got), `"/v1/quilts/{quilt_id}/patches"`) {
		t.Fatalf("OpenAPI: %d, valid JSON %v", code, json.Valid(got))
	}
	// Not found.
	code, _, got = request(t, "GET", srv.URL+"/v1/blobs/by-quilt-id/"+quiltID+"/nope", nil, nil)
	wantReason(t, code, got, 404, api.ReasonQuiltPatchNotFound)
	code, _, got = request(t, "GET", srv.URL+"/v1/blobs/by-quilt-patch-id/not-a-patch-id", nil, nil)
	wantReason(t, code, got, 400, api.ReasonMalformedRequest)
	code, _, got = request(t, "GET", srv.URL+"/v1/blobs/by-quilt-patch-id/"+ids["readme"]+"?x=1", nil, nil)
	wantReason(t, code, got, 400, api.ReasonMalformedRequest)
}

func TestQuiltAllowAllTags(t *testing.T) {
	srv, _ := newQuiltServer(t, func(c *Config) { c.AllowQuiltPatchTags = true })
	body, ct := multipartBody(t, []formPart{{"a", "x"}, {api.QuiltMetadataField, `[{"identifier": "a", "tags": {"x-custom": "v", "etag": "forged", "evil": "a\u0000b"}}]`}})
	code, _, out := request(t, "PUT", srv.URL+"/v1/quilts", body, map[string]string{"Content-Type": ct})
	if code != 200 {
		t.Fatalf("%d %s", code, out)
	}
	var res api.QuiltStoreResponse
	json.Unmarshal(out, &res)
	code, hdr, _ := request(t, "GET", srv.URL+"/v1/blobs/by-quilt-patch-id/"+res.StoredQuiltBlobs[0].QuiltPatchID, nil, nil)
	if code != 200 || hdr.Get("X-Custom") != "v" || hdr.Get("ETag") != res.StoredQuiltBlobs[0].QuiltPatchID || hdr.Get("Evil") != "" {
		t.Fatalf("all tags: %d %v", code, hdr)
	}
}

func TestQuiltStoreRejects(t *testing.T) {
	srv, _ := newQuiltServer(t, func(c *Config) { c.MaxQuiltBodySize = 4096 })
	good, ct := multipartBody(t, []formPart{{"a", "x"}})
	cases := []struct {
		name, query, ct string
		body            []byte
		code            int
		reason          string
	}{
		{"quilt version", "quilt_version=2", ct, good, 400, api.ReasonMalformedRequest},
		{"quilt version twice", "quilt_version=1&quilt_version=1", ct, good, 400, api.ReasonMalformedRequest},
		{"unknown key", "colour=red", ct, good, 400, api.ReasonMalformedRequest},
		{"not multipart", "", "application/octet-stream", good, 400, api.ReasonMalformedRequest},
		{"too large", "", ct, bytes.Repeat([]byte("x"), 5000), 413, api.ReasonPayloadTooLarge},
	}
	for _, c := range cases {
		code, _, out := request(t, "PUT", srv.URL+"/v1/quilts?"+c.query, c.body, map[string]string{"Content-Type": c.ct})
		if code != c.code {
			t.Errorf("%s: %d %s, want %d", c.name, code, out, c.code)
			continue
		}
		wantReason(t, code, out, c.code, c.reason)
	}
	for name, parts := range map[string][]formPart{
		"no file":               {{api.QuiltMetadataField, `[]`}},
		"duplicate":             {{"a", "1"}, {"a", "2"}},
		"trailing space":        {{"a ", "1"}},
		"metadata for no file":  {{"a", "1"}, {api.QuiltMetadataField, `[{"identifier": "b", "tags": {}}]`}},
		"metadata twice":        {{"a", "1"}, {api.QuiltMetadataField, `[]`}, {api.QuiltMetadataField, `[]`}},
		"metadata not JSON":     {{"a", "1"}, {api.QuiltMetadataField, `{`}},
		"metadata unknown key":  {{"a", "1"}, {api.QuiltMetadataField, `[{"identifier": "a", "colour": "red"}]`}},
		"metadata names a file": {{"a", "1"}, {api.QuiltMetadataField, `[{"identifier": "a"}, {"identifier": "a"}]`}},
	} {
		body, ct := multipartBody(t, parts)
		code, _, out := request(t, "PUT", srv.URL+"/v1/quilts", body, map[string]string{"Content-Type": ct})
		if code != 400 {
			t.Errorf("%s: %d %s", name, code, out)
		}
	}
}

// FuzzParseQuiltForm: the multipart body is untrusted.
func FuzzParseQuiltForm(f *testing.F) {
	mk := func(parts []formPart) []byte {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		mw.SetBoundary("BOUNDARY")
		for _, p := range parts {
			w, _ := mw.CreateFormField(p.name)
			io.WriteString(w, p.data)
		}
		mw.Close()
		return buf.Bytes()
	}
	f.Add(mk([]formPart{{"a", "x"}, {api.QuiltMetadataField, `[{"identifier":"a","tags":{"k":"v","n":1}}]`}}))
	f.Add(mk([]formPart{{"a", "x"}, {"b", ""}}))
	f.Add([]byte("--BOUNDARY\r\n\r\n--BOUNDARY--"))
	f.Fuzz(func(t *testing.T, body []byte) {
		patches, err := parseQuiltForm("multipart/form-data; boundary=BOUNDARY", body)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, p := range patches {
			if quilt.ValidateIdentifier(p.Identifier) != nil || seen[p.Identifier] {
				t.Fatalf("accepted identifier %q", p.Identifier)
			}
			seen[p.Identifier] = true
		}
	})
}

// TestQuiltBlocklist: a blocked quilt is neither stored nor read (451), patch by patch.
func TestQuiltBlocklist(t *testing.T) {
	files := []formPart{{"a", "blocked quilt"}}
	patches := []quilt.Patch{{Identifier: "a", Data: []byte("blocked quilt")}}
	m := &memQuilts{quilts: map[blob.ID]*quilt.Quilt{}}
	qid, err := m.QuiltBlobID(context.Background(), patches)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "blocklist.yaml")
	if err := os.WriteFile(path, []byte("- "+qid.String()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bl, err := LoadBlocklist(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv, mem := newQuiltServer(t, func(c *Config) { c.Blocklist = bl })
	body, ct := multipartBody(t, files)
	code, _, out := request(t, "PUT", srv.URL+"/v1/quilts", body, map[string]string{"Content-Type": ct})
	wantReason(t, code, out, 451, api.ReasonForbiddenBlob)
	if mem.last != nil {
		t.Fatal("a blocked quilt reached the store")
	}
	// Stored before it was blocked: not served.
	if _, err := mem.StoreQuilt(context.Background(), patches, StoreParams{}); err != nil {
		t.Fatal(err)
	}
	pid := quilt.PatchID{Quilt: qid, Patch: mem.quilts[qid].Index.Patches[0].InternalID()}
	for _, u := range []string{"/v1/blobs/by-quilt-patch-id/" + pid.String(), "/v1/blobs/by-quilt-id/" + qid.String() + "/a", "/v1/quilts/" + qid.String() + "/patches"} {
		code, _, out := request(t, "GET", srv.URL+u, nil, nil)
		wantReason(t, code, out, 451, api.ReasonForbiddenBlob)
	}
}

// TestQuiltStoreParams: PUT /v1/quilts takes every query parameter of PUT /v1/blobs, with the
// same checks, and the publisher's JWT authentication with its claims checks.
func TestQuiltStoreParams(t *testing.T) {
	secret := []byte("quilt secret")
	now := time.Unix(1_700_000_000, 0)
	srv, m := newQuiltServer(t, func(c *Config) {
		c.JWT = &JWTConfig{Secret: secret, VerifyUpload: true}
		c.Now = func() time.Time { return now }
	})
	body, ct := multipartBody(t, []formPart{{"a", "quilted"}, {"b", "patch"}})
	jti := 0
	tok := func(claims map[string]any) map[string]string {
		jti++
		claims["exp"], claims["jti"] = now.Add(time.Minute).Unix(), fmt.Sprint(jti)
		s, err := SignJWT(secret, claims)
		if err != nil {
			t.Fatal(err)
		}
		return map[string]string{"Content-Type": ct, "Authorization": "Bearer " + s}
	}
	addr := "0x" + strings.Repeat("ab", 32)
	for _, tc := range []struct {
		query string
		want  StoreParams
	}{
		{"", StoreParams{Epochs: 1}},
		{"epochs=53&force=true", StoreParams{Epochs: 53, Force: true}},
		{"deletable=true&encoding_type=RS2&reuse_resources=false", StoreParams{Epochs: 1}},
		{"permanent=true&quilt_version=V1", StoreParams{Epochs: 1, Permanent: true}},
		{"send_object_to=" + addr + "&quilt_version=1", StoreParams{Epochs: 1}},
	} {
		m.params = StoreParams{}
		code, _, out := request(t, "PUT", srv.URL+"/v1/quilts?"+tc.query, body, tok(map[string]any{}))
		if code != 200 {
			t.Fatalf("%s: %d %s", tc.query, code, out)
		}
		got := m.params
		if tc.want.SendObjectTo == nil && strings.Contains(tc.query, "send_object_to") {
			if got.SendObjectTo == nil || got.SendObjectTo.String() != addr {
				t.Fatalf("%s: send_object_to %v", tc.query, got.SendObjectTo)
			}
			got.SendObjectTo = nil
		}
		if got != tc.want {
			t.Fatalf("%s: params %+v, want %+v", tc.query, got, tc.want)
		}
	}
	for _, tc := range []struct {
		query  string
		claims map[string]any
		code   int
	}{
		{"epochs=54", map[string]any{}, 400},
		{"epochs=0", map[string]any{}, 400},
		{"deletable=true&permanent=true", map[string]any{}, 400},
		{"encoding_type=RS", map[string]any{}, 400},
		{"share=true", map[string]any{}, 400},
		{"force=yes", map[string]any{}, 400},
		{"send_object_to=0x12", map[string]any{}, 400},
		// The token's claims bind the quilt upload as they bind a blob upload (Walrus: 400).
		{"epochs=3", map[string]any{"epochs": 2}, 400},
		{"", map[string]any{"size": 1}, 400},
		{"", map[string]any{"max_size": len(body) - 1}, 400},
		{"", map[string]any{"send_object_to": addr}, 400},
	} {
		m.last = nil
		code, _, out := request(t, "PUT", srv.URL+"/v1/quilts?"+tc.query, body, tok(tc.claims))
		if code != tc.code || m.last != nil {
			t.Errorf("%s %v: %d %s (want %d, nothing stored)", tc.query, tc.claims, code, out, tc.code)
		}
	}
	if code, _, out := request(t, "PUT", srv.URL+"/v1/quilts", body, map[string]string{"Content-Type": ct}); code != 400 || m.last != nil {
		t.Errorf("no token: %d %s", code, out)
	}
}
