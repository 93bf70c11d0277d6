package engine

import (
	"crypto/sha256"
	"fmt"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/nodeclient"
)

// peer returns the client of another committee member (internal/nodeclient: pinned to the
// network key the member registered, verifying what it serves).
func (n *core) peer(m *cpapi.Member) (*nodeclient.Client, error) {
	return n.peers.Client(nodeclient.Node{Name: m.Name, Address: m.NetworkAddress, NetworkKey: m.NetworkPublicKey,
		BLSKey: crypto.BLSPublicKey(m.BLSPublicKey)})
}

// otherMembers returns the members of the view's committee other than this node.
func (n *core) otherMembers(v *epochView) []*cpapi.Member {
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
