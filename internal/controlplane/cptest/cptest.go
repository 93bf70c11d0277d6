// Package cptest builds control-plane fixtures for tests: a genesis with storage nodes whose
// keys are derived from fixed seeds, funded accounts, signed transactions and committee
// certificates. Storage-node and client tests can use it to stand up a control plane.
package cptest

import (
	"crypto/ed25519"
	"fmt"
	"sync"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/internal/controlplane"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/protocol"
)

// Network is a genesis with its secret keys.
type Network struct {
	Genesis   *controlplane.Genesis
	NodeKeys  []*crypto.BLSSecretKey // by genesis node index
	NodeOwner []*crypto.AccountKey
	// Users are funded accounts.
	Users []*crypto.AccountKey

	mu     sync.Mutex
	nonces map[crypto.Address]uint64
}

// Seeded returns a deterministic 32-byte key seed for a label and index.
func Seeded(label string, i int) []byte {
	b := make([]byte, 32)
	copy(b, fmt.Sprintf("%s-%d", label, i))
	return b
}

// NewNetwork returns a genesis with nodes storage nodes staking stakes[i] (or 100 each if
// stakes is nil), nShards shards, and users accounts holding balance each. Node prices are
// storage 10 and write 5 per MiB; capacity 1 TiB each.
func NewNetwork(nShards, nodes, users int, balance uint64, stakes []uint64, genesisTime time.Time) *Network {
	p := controlplane.DefaultParams()
	p.ChainID = "floe-test"
	p.NShards = nShards
	p.MaxCommitteeSize = min(nShards, 150)
	n := &Network{Genesis: &controlplane.Genesis{Params: p, GenesisTime: genesisTime.UnixMilli()}, nonces: map[crypto.Address]uint64{}}
	for i := 0; i < users; i++ {
		k, _ := crypto.AccountKeyFromSeed(Seeded("user", i))
		n.Users = append(n.Users, k)
		n.Genesis.Balances = append(n.Genesis.Balances, controlplane.GenesisBalance{Address: k.Address(), Amount: balance})
	}
	for i := 0; i < nodes; i++ {
		bk, _ := crypto.BLSKeyFromSeed(Seeded("node-bls", i))
		owner, _ := crypto.AccountKeyFromSeed(Seeded("node-owner", i))
		stake := uint64(100)
		if stakes != nil {
			stake = stakes[i]
		}
		netKey := owner.PublicKey()
		n.NodeKeys = append(n.NodeKeys, bk)
		n.NodeOwner = append(n.NodeOwner, owner)
		n.Genesis.Nodes = append(n.Genesis.Nodes, controlplane.GenesisNode{
			Owner: owner.Address(), Name: fmt.Sprintf("node-%d", i), NetworkAddress: fmt.Sprintf("127.0.0.1:%d", 20000+i),
			NetworkPublicKey: netKey[:], BLSPublicKey: bk.PublicKey(),
			ProofOfPossession: protocol.SignProofOfPossession(bk, owner.Address(), 0),
			Commission:        1000, Stake: stake, StoragePrice: 10, WritePrice: 5, Capacity: 1 << 40,
		})
	}
	return n
}

// Sign signs op from key with the next nonce this Network has handed out for key.
func (n *Network) Sign(key *crypto.AccountKey, op cpapi.Op) []byte {
	n.mu.Lock()
	a := key.Address()
	nonce := n.nonces[a]
	n.nonces[a]++
	n.mu.Unlock()
	raw, err := cpapi.Sign(&cpapi.Tx{ChainID: n.Genesis.Params.ChainID, Sender: cpapi.PublicKey(key.PublicKey()), Nonce: nonce, Op: op},
		ed25519.NewKeyFromSeed(key.Seed()))
	if err != nil {
		panic(err) // only a malformed op, a bug in the test
	}
	return raw
}

// SetNonce sets the next nonce for key.
func (n *Network) SetNonce(key *crypto.AccountKey, nonce uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.nonces[key.Address()] = nonce
}

// Certify builds a certificate over msg signed by every member of c whose BLS key belongs to
// this network's nodes and whose member index is in signers (all members if signers is nil).
func (n *Network) Certify(c *cpapi.Committee, msg []byte, signers []int) (cpapi.Certificate, error) {
	keyOf := map[crypto.BLSPublicKey]*crypto.BLSSecretKey{}
	for _, k := range n.NodeKeys {
		keyOf[k.PublicKey()] = k
	}
	if signers == nil {
		for i := range c.Members {
			signers = append(signers, i)
		}
	}
	var sigs []crypto.BLSSignature
	for _, i := range signers {
		k := keyOf[crypto.BLSPublicKey(c.Members[i].BLSPublicKey)]
		if k == nil {
			return cpapi.Certificate{}, fmt.Errorf("cptest: member %d is not one of the network's nodes", i)
		}
		sigs = append(sigs, k.Sign(msg))
	}
	agg, err := crypto.AggregateSignatures(sigs)
	if err != nil {
		return cpapi.Certificate{}, err
	}
	bm, err := protocol.Bitmap(len(c.Members), signers)
	if err != nil {
		return cpapi.Certificate{}, err
	}
	return cpapi.Certificate{Signers: bm, Message: msg, Signature: cpapi.BLSSignature(agg)}, nil
}
