package storagenode

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	api "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/nodetls"
)

// ErrPeer is wrapped by the errors of requests to other nodes.
var ErrPeer = errors.New("storagenode: peer request failed")

// peerError is an error response of another node.
type peerError struct {
	status int
	reason string
	msg    string
}

func (e *peerError) Error() string {
	return fmt.Sprintf("HTTP %d %s: %s", e.status, e.reason, e.msg)
}

// peerSet holds one HTTPS client per committee member, pinned to the network key the member
// registered (nodetls.ClientConfig).
type peerSet struct {
	timeout time.Duration
	mu      sync.Mutex
	clients map[string]*http.Client // by address and key
}

func newPeerSet(timeout time.Duration) *peerSet {
	return &peerSet{timeout: timeout, clients: map[string]*http.Client{}}
}

// client returns the client for member m.
func (ps *peerSet) client(m *cpapi.Member) (*http.Client, error) {
	key := m.NetworkAddress + "|" + hex.EncodeToString(m.NetworkPublicKey)
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if c := ps.clients[key]; c != nil {
		return c, nil
	}
	host, _, err := net.SplitHostPort(m.NetworkAddress)
	if err != nil {
		return nil, fmt.Errorf("%w: member %s: network address %q: %w", ErrPeer, m.Name, m.NetworkAddress, err)
	}
	tcfg, err := nodetls.ClientConfig(m.NetworkPublicKey, host, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: member %s: network key: %w", ErrPeer, m.Name, err)
	}
	c := &http.Client{Transport: &http.Transport{
		TLSClientConfig:     tcfg,
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     time.Minute,
		TLSHandshakeTimeout: 10 * time.Second,
	}}
	ps.clients[key] = c
	return c, nil
}

// close closes the idle connections of every client.
func (ps *peerSet) close() {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for k, c := range ps.clients {
		c.CloseIdleConnections()
		delete(ps.clients, k)
	}
}

// do sends one request to member m and returns the body of a 2xx response of at most limit
// bytes; other responses become errors wrapping ErrPeer (and a *peerError).
func (ps *peerSet) do(ctx context.Context, m *cpapi.Member, method, path string, body []byte, limit int64) ([]byte, error) {
	c, err := ps.client(m)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, ps.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, "https://"+m.NetworkAddress+path, rd)
	if err != nil {
		return nil, fmt.Errorf("%w: %s %s: %w", ErrPeer, method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", api.ContentTypeOctetStream)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %s %s to %s: %w", ErrPeer, method, path, m.Name, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading %s from %s: %w", ErrPeer, path, m.Name, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: %s from %s: response larger than %d bytes", ErrPeer, path, m.Name, limit)
	}
	if resp.StatusCode/100 != 2 {
		pe := &peerError{status: resp.StatusCode}
		var e api.Error
		if json.Unmarshal(b, &e) == nil {
			pe.reason, pe.msg = e.Error.Reason(), e.Error.Message
		}
		return nil, fmt.Errorf("%w: %s %s to %s: %w", ErrPeer, method, path, m.Name, pe)
	}
	return b, nil
}

// otherMembers returns the members of the view's committee other than this node.
func (n *Node) otherMembers(v *epochView) []*cpapi.Member {
	out := make([]*cpapi.Member, 0, len(v.committee.Members))
	for i := range v.committee.Members {
		m := &v.committee.Members[i]
		if crypto.BLSPublicKey(m.BLSPublicKey) != n.pub && len(m.Shards) > 0 {
			out = append(out, m)
		}
	}
	return out
}

// derivedAccountKey returns the account key a node uses when its configuration names none:
// derived from its protocol key, so it is stable across restarts.
func derivedAccountKey(k *crypto.BLSSecretKey) (*crypto.AccountKey, error) {
	h := sha256.New()
	h.Write([]byte("floe-storage-node-account-v1\x00"))
	h.Write(k.Bytes())
	key, err := crypto.AccountKeyFromSeed(h.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("storagenode: account key: %w", err)
	}
	return key, nil
}

// unresponsive reports whether err from peerSet.do says the peer did not answer usefully
// (unreachable, timed out, cut off, a server error or a malformed answer) rather than
// refused the request with a 4xx.
func unresponsive(err error) bool {
	var pe *peerError
	if errors.As(err, &pe) {
		return pe.status >= 500
	}
	return err != nil
}
