package nodetls

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// serve starts an HTTPS server on 127.0.0.1 with cert and returns its address.
func serve(t *testing.T, cert tls.Certificate) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok")
	}))
	srv.TLS = ServerConfig(cert)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

func get(addr string, cfg *tls.Config) error {
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	resp, err := c.Get("https://" + addr + "/")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.ReadAll(resp.Body)
	return err
}

func mustKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestPinnedHandshake(t *testing.T) {
	key, other := mustKey(t), mustKey(t)
	cert, err := SelfSigned(key, []string{"127.0.0.1", "node.example"})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, cert)

	registered, err := PublicKeyBytes(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if len(registered) != 33 {
		t.Fatalf("compressed key has %d bytes", len(registered))
	}
	cfg, err := ClientConfig(registered, "127.0.0.1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := get(addr, cfg); err != nil {
		t.Fatalf("pinned key refused: %v", err)
	}
	// The uncompressed form of the same key pins too.
	uncompressed, err := key.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err = ClientConfig(uncompressed, "127.0.0.1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := get(addr, cfg); err != nil {
		t.Fatalf("uncompressed pinned key refused: %v", err)
	}
	// Another registered key: the self-signed certificate is not trusted by WebPKI either.
	wrong, _ := PublicKeyBytes(&other.PublicKey)
	cfg, err = ClientConfig(wrong, "127.0.0.1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := get(addr, cfg); !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("wrong pinned key accepted or wrong error: %v", err)
	}
}

// TestWebPKIFallback: a node whose certificate does not carry the registered key is still
// accepted when its certificate chains to a trusted root for the server name.
func TestWebPKIFallback(t *testing.T) {
	caKey := mustKey(t)
	caCert, err := SelfSigned(caKey, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	// Make the self-signed certificate its own trust anchor (a CA would sign a leaf; the
	// fallback path is the same: x509 verification against roots).
	roots := x509.NewCertPool()
	roots.AddCert(caCert.Leaf)
	addr := serve(t, caCert)

	unrelated, _ := PublicKeyBytes(&mustKey(t).PublicKey)
	cfg, err := ClientConfig(unrelated, "127.0.0.1", roots)
	if err != nil {
		t.Fatal(err)
	}
	if err := get(addr, cfg); err != nil {
		t.Fatalf("certificate trusted by the given roots refused: %v", err)
	}
	// Same roots, wrong server name: refused.
	cfg, _ = ClientConfig(unrelated, "other.example", roots)
	if err := get(addr, cfg); err == nil {
		t.Fatal("certificate accepted for a name it does not carry")
	}
}

func TestKeyEncodings(t *testing.T) {
	for _, bad := range [][]byte{nil, {2}, make([]byte, 33), append([]byte{4}, make([]byte, 64)...), make([]byte, 48)} {
		if _, err := ClientConfig(bad, "x", nil); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("key %x: %v, want ErrInvalidKey", bad, err)
		}
	}
	key := mustKey(t)
	pemBytes, err := MarshalPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParsePrivateKey(pemBytes)
	if err != nil || !back.Equal(key) {
		t.Fatalf("PEM round trip: %v", err)
	}
	if _, err := ParsePrivateKey([]byte("not pem")); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("garbage PEM: %v", err)
	}
}
