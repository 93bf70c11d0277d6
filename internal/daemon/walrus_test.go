package daemon

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	api "github.com/floelabs/floe/api/daemon"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/protocol"
	"github.com/floelabs/floe/internal/redoc"
)

// TestJWTWalrus checks the publisher's JWT authentication against Walrus's behaviour
// (auth.rs and its tests): statuses, reasons, the replay cache and the claims checks.
func TestJWTWalrus(t *testing.T) {
	secret := []byte("devnet secret")
	now := time.Unix(1_700_000_000, 0)
	m := newMem()
	srv := newTestServer(t, m, func(c *Config) {
		c.JWT = &JWTConfig{Secret: secret, VerifyUpload: true}
		c.Now = func() time.Time { return now }
	})
	tok := func(claims map[string]any) map[string]string {
		s, err := SignJWT(secret, claims)
		if err != nil {
			t.Fatal(err)
		}
		return map[string]string{"Authorization": "Bearer " + s}
	}
	exp := now.Add(time.Minute).Unix()
	data := []byte("authorised blob")
	put := func(query string, h map[string]string) result {
		return do(t, "PUT", srv.URL+"/v1/blobs?force=true"+query, data, h)
	}
	if r := put("&epochs=2", tok(map[string]any{"exp": exp, "jti": "a", "epochs": 2, "size": len(data)})); r.code != 200 {
		t.Fatalf("valid token: %d %s", r.code, r.body)
	}
	addr := "0x" + strings.Repeat("cd", 32)
	if r := put("&send_object_to="+addr, tok(map[string]any{"exp": exp, "jti": "b", "max_epochs": 1, "max_size": len(data), "send_object_to": addr})); r.code != 200 {
		t.Fatalf("valid token with maxima: %d %s", r.code, r.body)
	}
	// Within jsonwebtoken's 60 s of leeway a token is still valid.
	if r := put("", tok(map[string]any{"exp": now.Unix() - 30, "jti": "leeway"})); r.code != 200 {
		t.Fatalf("token within the leeway: %d %s", r.code, r.body)
	}
	forged, _ := SignJWT([]byte("other"), map[string]any{"exp": exp, "jti": "f"})
	hs384, _ := SignJWTWith("HS384", secret, map[string]any{"exp": exp, "jti": "g"})
	for name, tc := range map[string]struct {
		query  string
		hdr    map[string]string
		code   int
		reason string
	}{
		"none":              {"", nil, 400, ReasonInvalidToken},
		"not bearer":        {"", map[string]string{"Authorization": "Basic eA=="}, 400, ReasonInvalidToken},
		"garbage":           {"", map[string]string{"Authorization": "Bearer a.b"}, 400, ReasonInvalidToken},
		"forged":            {"", map[string]string{"Authorization": "Bearer " + forged}, 401, ReasonInvalidSignature},
		"other algorithm":   {"", map[string]string{"Authorization": "Bearer " + hs384}, 400, ReasonInvalidToken},
		"no exp":            {"", tok(map[string]any{"jti": "c"}), 400, ReasonInvalidToken},
		"no jti":            {"", tok(map[string]any{"exp": exp}), 400, ReasonInvalidToken},
		"expired":           {"", tok(map[string]any{"exp": now.Unix() - 61, "jti": "d"}), 504, ReasonExpiredSignature},
		"replayed jti":      {"&epochs=2", tok(map[string]any{"exp": exp, "jti": "a"}), 429, ReasonTokenAlreadyUsed},
		"epochs":            {"&epochs=3", tok(map[string]any{"exp": exp, "jti": "e", "epochs": 2}), 400, ReasonInvalidEpochs},
		"max_epochs":        {"&epochs=3", tok(map[string]any{"exp": exp, "jti": "e", "max_epochs": 2}), 400, ReasonInvalidEpochs},
		"both epochs":       {"&epochs=2", tok(map[string]any{"exp": exp, "jti": "e", "epochs": 2, "max_epochs": 2}), 400, ReasonInconsistentToken},
		"both sizes":        {"", tok(map[string]any{"exp": exp, "jti": "e", "size": 1, "max_size": 2}), 400, ReasonInconsistentToken},
		"size":              {"", tok(map[string]any{"exp": exp, "jti": "e", "size": len(data) + 1}), 400, ReasonInvalidSize},
		"max_size":          {"", tok(map[string]any{"exp": exp, "jti": "e", "max_size": len(data) - 1}), 400, ReasonInvalidSize},
		"no send_object_to": {"", tok(map[string]any{"exp": exp, "jti": "e", "send_object_to": addr}), 400, ReasonInvalidSendObjectTo},
		"other recipient":   {"&send_object_to=0x" + strings.Repeat("ef", 32), tok(map[string]any{"exp": exp, "jti": "e", "send_object_to": addr}), 400, ReasonInvalidSendObjectTo},
	} {
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			wantErrorDomain(t, put(tc.query, tc.hdr), tc.code, tc.reason, JWTDomain)
		})
	}
	// A token refused by its claims is given back ("e" above); one that passed them is spent.
	if r := put("&epochs=4", tok(map[string]any{"exp": exp, "jti": "e", "epochs": 4})); r.code != 200 {
		t.Fatalf("jti after refused requests: %d %s", r.code, r.body)
	}
	// Reads need no token.
	if r := do(t, "GET", srv.URL+"/v1/blobs/"+blob.ID(sha256.Sum256(data)).String(), nil, nil); r.code != 200 {
		t.Fatalf("read: %d", r.code)
	}
	if n := m.storeCalls(); n != 4 {
		t.Errorf("%d stores, want the 4 authorised ones", n)
	}
}

// TestJWTAlgorithms signs with every key type Walrus takes, the key given as --jwt-decode-secret
// would be (0x hex).
func TestJWTAlgorithms(t *testing.T) {
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	ec256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	point := func(k *ecdsa.PrivateKey) string {
		b, err := k.PublicKey.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		return "0x" + hex.EncodeToString(b)
	}
	spki, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	for _, tc := range []struct {
		alg, secret string
		sign        any
	}{
		{"HS256", "0x" + hex.EncodeToString([]byte("hex secret")), []byte("hex secret")},
		{"HS384", "plain secret", []byte("plain secret")},
		{"HS512", "plain secret", []byte("plain secret")},
		{"EdDSA", "0x" + hex.EncodeToString(edPub), edPriv},
		{"ES256", point(ec256), ec256},
		{"ES384", point(ec384), ec384},
		{"RS256", "0x" + hex.EncodeToString(x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey)), rsaKey},
		{"PS256", "0x" + hex.EncodeToString(spki), rsaKey},
		{"RS512", "0x" + hex.EncodeToString(spki), rsaKey},
	} {
		t.Run(tc.alg, func(t *testing.T) {
			key, err := ParseJWTKey(tc.alg, tc.secret)
			if err != nil {
				t.Fatal(err)
			}
			srv := newTestServer(t, newMem(), func(c *Config) { c.JWT = &JWTConfig{Algorithm: tc.alg, Key: key} })
			good, err := SignJWTWith(tc.alg, tc.sign, map[string]any{"exp": time.Now().Add(time.Hour).Unix(), "jti": "x"})
			if err != nil {
				t.Fatal(err)
			}
			if r := do(t, "PUT", srv.URL+"/v1/blobs", []byte("blob"), map[string]string{"Authorization": "Bearer " + good}); r.code != 200 {
				t.Fatalf("%d %s", r.code, r.body)
			}
			// A flipped signature byte.
			parts := strings.Split(good, ".")
			sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
			sig[len(sig)/2] ^= 1
			bad := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
			wantErrorDomain(t, do(t, "PUT", srv.URL+"/v1/blobs", []byte("blob"), map[string]string{"Authorization": "Bearer " + bad}), 401, ReasonInvalidSignature, JWTDomain)
		})
	}
	for _, bad := range [][2]string{{"HS256", "0xabc"}, {"HS256", "0xzz"}, {"EdDSA", "0x00"}, {"ES256", "0x0102"}, {"RS256", "not a key"}, {"XX1", "s"}} {
		if _, err := ParseJWTKey(bad[0], bad[1]); err == nil {
			t.Errorf("ParseJWTKey(%q, %q) accepted", bad[0], bad[1])
		}
	}
}

// TestJWTExpiringAndUnsigned: --jwt-expiring-sec requires exp - iat to equal it; without a key
// tokens are decoded unchecked (a gateway verified them); a full replay cache refuses new
// tokens with 500 until old ones expire; the body's size is checked against size whenever a
// token is given, even without --jwt-verify-upload.
func TestJWTExpiringAndUnsigned(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	srv := newTestServer(t, newMem(), func(c *Config) {
		c.JWT = &JWTConfig{ExpiringSec: 600, CacheSize: 3}
		c.Now = func() time.Time { return now }
	})
	unsigned := func(claims map[string]any) map[string]string {
		s, _ := SignJWT([]byte("anything"), claims)
		return map[string]string{"Authorization": "Bearer " + s}
	}
	put := func(body []byte, h map[string]string) result {
		return do(t, "PUT", srv.URL+"/v1/blobs?force=true", body, h)
	}
	iat := now.Unix()
	if r := put([]byte("one"), unsigned(map[string]any{"iat": iat, "exp": iat + 600, "jti": "1"})); r.code != 200 {
		t.Fatalf("unsigned, right lifetime: %d %s", r.code, r.body)
	}
	wantErrorDomain(t, put([]byte("two"), unsigned(map[string]any{"iat": iat, "exp": iat + 601, "jti": "2"})), 400, ReasonInvalidExpiration, JWTDomain)
	wantErrorDomain(t, put([]byte("two"), unsigned(map[string]any{"exp": iat + 600, "jti": "2"})), 400, ReasonInvalidToken, JWTDomain)
	wantErrorDomain(t, put([]byte("three!"), unsigned(map[string]any{"iat": iat, "exp": iat + 600, "jti": "3", "size": 5})), 400, ReasonInvalidSize, JWTDomain)
	if r := put([]byte("four"), unsigned(map[string]any{"iat": iat, "exp": iat + 600, "jti": "4"})); r.code != 200 {
		t.Fatalf("second token: %d %s", r.code, r.body)
	}
	wantErrorDomain(t, put([]byte("five"), unsigned(map[string]any{"iat": iat, "exp": iat + 600, "jti": "5"})), 500, "INTERNAL_ERROR", JWTDomain)
	now = now.Add(700 * time.Second)
	iat = now.Unix()
	if r := put([]byte("five"), unsigned(map[string]any{"iat": iat, "exp": iat + 600, "jti": "5"})); r.code != 200 {
		t.Fatalf("after the old tokens expired: %d %s", r.code, r.body)
	}
}

func TestBlocklist(t *testing.T) {
	m := newMem()
	blocked := m.put([]byte("blocked blob"))
	ok := m.put([]byte("fine blob"))
	oid := protocol.ObjectID{7}
	m.objects[oid] = &Object{BlobID: blocked}
	path := filepath.Join(t.TempDir(), "blocklist.yaml")
	if err := os.WriteFile(path, []byte("- "+blocked.String()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bl, err := LoadBlocklist(path, nil)
	if err != nil || bl.Len() != 1 {
		t.Fatalf("LoadBlocklist: %v", err)
	}
	srv := newTestServer(t, m, func(c *Config) { c.Blocklist = bl })
	for _, u := range []string{"/v1/blobs/" + blocked.String(), "/v1/blobs/by-object-id/" + oid.String(),
		"/v1/blobs/" + blocked.String() + "/byte-range?start=0&length=3", "/v1alpha/blobs/" + blocked.String() + "/stream",
		"/v1alpha/blobs/concat?ids=" + ok.String() + "," + blocked.String()} {
		wantError(t, do(t, "GET", srv.URL+u, nil, nil), 451, api.ReasonForbiddenBlob)
	}
	wantError(t, do(t, "PUT", srv.URL+"/v1/blobs", []byte("blocked blob"), nil), 451, api.ReasonForbiddenBlob)
	if n := m.storeCalls(); n != 0 {
		t.Fatalf("a blocked blob reached the store (%d calls)", n)
	}
	if r := do(t, "GET", srv.URL+"/v1/blobs/"+ok.String(), nil, nil); r.code != 200 {
		t.Fatalf("unblocked blob: %d", r.code)
	}
	// The file is read again: emptied, it blocks nothing; a broken file keeps the last list.
	os.WriteFile(path, nil, 0o644)
	if err := bl.Reload(); err != nil || bl.Len() != 0 {
		t.Fatalf("empty file: %v %d", err, bl.Len())
	}
	os.WriteFile(path, []byte("- "+blocked.String()+"\n- not-an-id\n"), 0o644)
	if err := bl.Reload(); err == nil || bl.Len() != 0 {
		t.Fatalf("broken file: %v %d", err, bl.Len())
	}
	if r := do(t, "GET", srv.URL+"/v1/blobs/"+blocked.String(), nil, nil); r.code != 200 {
		t.Fatalf("after unblocking: %d", r.code)
	}
	if _, err := LoadBlocklist(filepath.Join(t.TempDir(), "none.yaml"), nil); err != nil {
		t.Fatalf("a missing file blocks nothing: %v", err)
	}
}

func TestAlphaRoutesAndRangeETag(t *testing.T) {
	m := newMem()
	a, b := []byte("first blob, "), bytes.Repeat([]byte("second "), 100)
	ida, idb := m.put(a), m.put(b)
	oid := protocol.ObjectID{9}
	m.objects[oid] = &Object{BlobID: idb, Attributes: map[string]string{"content-disposition": "attachment", "x-secret": "no"}}
	srv := newTestServer(t, m, nil)

	r := do(t, "GET", srv.URL+"/v1alpha/blobs/"+idb.String()+"/stream", nil, nil)
	if r.code != 200 || !bytes.Equal(r.body, b) || r.hdr.Get("X-Walrus-Streaming") != "true" || r.hdr.Get("ETag") != idb.String() ||
		r.hdr.Get("Content-Length") != fmt.Sprint(len(b)) {
		t.Fatalf("stream: %d %v %q", r.code, r.hdr, r.body)
	}
	wantError(t, do(t, "GET", srv.URL+"/v1alpha/blobs/"+blob.ID{1}.String()+"/stream", nil, nil), 404, api.ReasonBlobNotFound)

	ids := oid.String() + "," + ida.String()
	sum := sha256.Sum256([]byte(ids))
	etag := base64.RawURLEncoding.EncodeToString(sum[:])
	want := append(append([]byte{}, b...), a...)
	r = do(t, "GET", srv.URL+"/v1alpha/blobs/concat?ids="+ids, nil, nil)
	if r.code != 200 || !bytes.Equal(r.body, want) || r.hdr.Get("ETag") != etag || r.hdr.Get("Content-Disposition") != "attachment" || r.hdr.Get("X-Secret") != "" {
		t.Fatalf("concat GET: %d %v %q", r.code, r.hdr, r.body)
	}
	r = do(t, "POST", srv.URL+"/v1alpha/blobs/concat", []byte(`{"ids": ["`+oid.String()+`", "`+ida.String()+`"]}`), map[string]string{"Content-Type": "application/json"})
	if r.code != 200 || !bytes.Equal(r.body, want) || r.hdr.Get("ETag") != etag {
		t.Fatalf("concat POST: %d %v %q", r.code, r.hdr, r.body)
	}
	r = do(t, "HEAD", srv.URL+"/v1alpha/blobs/concat?ids="+ids, nil, nil)
	if r.code != 200 || r.hdr.Get("Content-Length") != fmt.Sprint(len(want)) {
		t.Fatalf("concat HEAD: %d %v", r.code, r.hdr)
	}
	for _, tc := range []struct {
		method, url, body string
		code              int
		reason            string
	}{
		{"GET", "/v1alpha/blobs/concat", "", 400, api.ReasonMalformedRequest},
		{"GET", "/v1alpha/blobs/concat?ids=,", "", 400, api.ReasonMalformedRequest},
		{"GET", "/v1alpha/blobs/concat?ids=nonsense", "", 400, api.ReasonInvalidIDFormat},
		{"GET", "/v1alpha/blobs/concat?ids=" + (protocol.ObjectID{8}).String(), "", 404, api.ReasonObjectIDResolutionFailed},
		{"GET", "/v1alpha/blobs/concat?ids=" + blob.ID{2}.String(), "", 404, api.ReasonBlobNotFound},
		{"GET", "/v1alpha/blobs/concat?ids=" + ida.String() + "&other=1", "", 400, api.ReasonMalformedRequest},
		{"GET", "/v1alpha/blobs/concat?ids=" + ida.String() + "&strict_consistency_check=true&skip_consistency_check=true", "", 400, api.ReasonMalformedRequest},
		{"POST", "/v1alpha/blobs/concat", `{"ids": [], "x": 1}`, 400, api.ReasonMalformedRequest},
		{"POST", "/v1alpha/blobs/concat", `{"ids": []}`, 400, api.ReasonMalformedRequest},
		{"PUT", "/v1alpha/blobs/concat", "", 405, api.ReasonMethodNotAllowed},
	} {
		var body []byte
		if tc.body != "" {
			body = []byte(tc.body)
		}
		wantError(t, do(t, tc.method, srv.URL+tc.url, body, nil), tc.code, tc.reason)
	}

	r = do(t, "GET", fmt.Sprintf("%s/v1/blobs/%s/byte-range?start=7&length=14", srv.URL, idb), nil, nil)
	if r.code != 200 || !bytes.Equal(r.body, b[7:21]) || r.hdr.Get("ETag") != idb.String()+"-7-14" {
		t.Fatalf("byte-range: %d %v %q", r.code, r.hdr, r.body)
	}
}

// TestAPIPage: /v1/api is Redoc's page over /v1/api/openapi.json, with the bundle served by
// the daemon; rendered by headless Chromium it shows the operations, with a policy that lets
// it load nothing from elsewhere.
func TestAPIPage(t *testing.T) {
	srv := newTestServer(t, newMem(), nil)
	r := do(t, "GET", srv.URL+"/v1/api/openapi.json", nil, nil)
	if r.code != 200 || !bytes.Contains(r.body, []byte(`"/v1alpha/blobs/concat"`)) {
		t.Fatalf("spec: %d", r.code)
	}
	r = do(t, "GET", srv.URL+"/v1/api", nil, nil)
	if r.code != 200 || !strings.HasPrefix(r.hdr.Get("Content-Type"), "text/html") || !strings.Contains(r.hdr.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("page: %d %v", r.code, r.hdr)
	}
	r = do(t, "GET", srv.URL+routeRedocJS, nil, nil)
	if r.code != 200 || len(r.body) != redoc.BundleSize() {
		t.Fatalf("bundle: %d, %d bytes", r.code, len(r.body))
	}
	if testing.Short() {
		return
	}
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("SKIPPED the rendering: needs the chromium browser (scripts/setup installs Debian's chromium package)")
	}
	dom := dumpDOM(t, chromium, srv.URL+"/v1/api")
	for _, want := range []string{"Floe publisher and aggregator", "Store a blob", "/v1alpha/blobs/concat"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered page lacks %q (%d bytes of DOM)", want, len(dom))
		}
	}
	if !strings.Contains(dom, "redoc") {
		t.Errorf("Redoc did not render:\n%.2000s", dom)
	}
}
