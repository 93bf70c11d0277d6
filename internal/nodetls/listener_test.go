package nodetls

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// listen starts an HTTP server on a Listener on 127.0.0.1 that answers with how the request
// came (TLS or plain, HTTP version), and returns the Listener.
func listen(t *testing.T, opts ListenerOptions) (*Listener, *tls.Config) {
	t.Helper()
	k := mustKey(t)
	cert, err := SelfSigned(k, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := PublicKeyBytes(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	ccfg, err := ClientConfig(pub, "127.0.0.1", nil)
	if err != nil {
		t.Fatal(err)
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetHTTP2(true)
	protos.SetUnencryptedHTTP2(true)
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			how := "plain"
			if r.TLS != nil {
				how = "tls"
			}
			io.WriteString(w, how+" "+r.Proto)
		}),
		TLSConfig: ServerConfig(cert), Protocols: &protos, ReadHeaderTimeout: 5 * time.Second,
	}
	l := NewListener(inner, srv.TLSConfig, opts)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return l, ccfg
}

func fetch(t *testing.T, tr *http.Transport, url string) string {
	t.Helper()
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, b)
	}
	return string(b)
}

// TestListenerProtocols: one port serves TLS (HTTP/1.1 and HTTP/2 by ALPN) and, to a loopback
// client, plain HTTP/1.1 and HTTP/2 by prior knowledge.
func TestListenerProtocols(t *testing.T) {
	l, ccfg := listen(t, ListenerOptions{})
	addr := l.Addr().String()
	h2c := new(http.Protocols)
	h2c.SetUnencryptedHTTP2(true)
	for _, tc := range []struct {
		name, url, want string
		tr              *http.Transport
	}{
		{"TLS HTTP/1.1", "https://" + addr, "tls HTTP/1.1", &http.Transport{TLSClientConfig: ccfg}},
		{"TLS HTTP/2", "https://" + addr, "tls HTTP/2.0", &http.Transport{TLSClientConfig: ccfg, ForceAttemptHTTP2: true}},
		{"plain HTTP/1.1", "http://" + addr, "plain HTTP/1.1", &http.Transport{}},
		{"plain HTTP/2", "http://" + addr, "plain HTTP/2.0", &http.Transport{Protocols: h2c}},
	} {
		if got := fetch(t, tc.tr, tc.url); got != tc.want {
			t.Errorf("%s: the server saw %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestListenerRefusesRemotePlain: plain HTTP from a peer AllowPlain refuses gets a 400 naming
// https://, and TLS from it is served.
func TestListenerRefusesRemotePlain(t *testing.T) {
	l, ccfg := listen(t, ListenerOptions{AllowPlain: func(net.Addr) bool { return false }})
	addr := l.Addr().String()
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(b), "https://") {
		t.Fatalf("plain request from a refused peer: %s %q, want 400 naming https://", resp.Status, b)
	}
	if got := fetch(t, &http.Transport{TLSClientConfig: ccfg}, "https://"+addr); got != "tls HTTP/1.1" {
		t.Fatalf("TLS from the same peer: %q", got)
	}
}

// TestListenerSilentClient: a client that connects and says nothing is closed after
// SniffTimeout and holds up no other client meanwhile.
func TestListenerSilentClient(t *testing.T) {
	l, _ := listen(t, ListenerOptions{SniffTimeout: 300 * time.Millisecond})
	addr := l.Addr().String()
	silent, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	if got := fetch(t, &http.Transport{}, "http://"+addr); got != "plain HTTP/1.1" {
		t.Fatalf("a client after a silent one: %q", got)
	}
	// The silent connection is closed by the listener: the read sees the end (no deadline of
	// ours: the listener's timeout is what ends it).
	if _, err := bufio.NewReader(silent).ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("read from the silent connection: %v, want EOF", err)
	}
}

// TestListenerClose: Close makes Accept return net.ErrClosed.
func TestListenerClose(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := NewListener(inner, &tls.Config{}, ListenerOptions{})
	errc := make(chan error, 1)
	go func() {
		_, err := l.Accept()
		errc <- err
	}()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v, want net.ErrClosed", err)
	}
	if _, err := net.Dial("tcp", inner.Addr().String()); err == nil {
		t.Fatal("the inner listener still accepts after Close")
	}
}

func TestIsLoopback(t *testing.T) {
	for _, tc := range []struct {
		addr net.Addr
		want bool
	}{
		{&net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 1}, true},
		{&net.TCPAddr{IP: net.ParseIP("127.8.9.10"), Port: 1}, true},
		{&net.TCPAddr{IP: net.ParseIP("::1"), Port: 1}, true},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:127.0.0.1"), Port: 1}, true},
		{&net.TCPAddr{IP: net.ParseIP("10.0.0.1"), Port: 1}, false},
		{&net.TCPAddr{IP: net.ParseIP("::"), Port: 1}, false},
		{&net.UnixAddr{Name: "@x", Net: "unix"}, true},
	} {
		if got := IsLoopback(tc.addr); got != tc.want {
			t.Errorf("IsLoopback(%v) = %v, want %v", tc.addr, got, tc.want)
		}
	}
	for host, want := range map[string]bool{"127.0.0.1": true, "::1": true, "localhost": false, "10.1.2.3": false, "": false, "::ffff:127.0.0.2": true} {
		if got := IsLoopbackHost(host); got != want {
			t.Errorf("IsLoopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}
