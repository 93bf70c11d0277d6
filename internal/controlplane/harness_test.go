package controlplane

import (
	"bytes"
	"testing"
	"time"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/merkle"
	"github.com/floelabs/floe/internal/protocol"
)

// harness drives a State block by block with one clock.
type harness struct {
	t      testing.TB
	s      *State
	now    time.Time
	nodes  []*crypto.BLSSecretKey // genesis node keys, by genesis index
	owners []*crypto.AccountKey
	alice  *crypto.AccountKey
	bob    *crypto.AccountKey
	nonces map[Address]uint64
	blocks [][][]byte // every block applied, for replay
	times  []time.Time
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func accountKey(t testing.TB, b byte) *crypto.AccountKey {
	k, err := crypto.AccountKeyFromSeed(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func blsKey(t testing.TB, b byte) *crypto.BLSSecretKey {
	k, err := crypto.BLSKeyFromSeed(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// testGenesis: 10 shards, 4 nodes staking 40, 30, 20, 10 (so 4, 3, 2, 1 shards), storage price
// 10 per MiB-epoch, write price 5 per MiB, capacity 1 GiB each, alice and bob with 10^9.
func testGenesis(t testing.TB) (*Genesis, []*crypto.BLSSecretKey, []*crypto.AccountKey) {
	p := DefaultParams()
	p.ChainID = "floe-test"
	p.NShards = 10
	p.EpochDurationMs = 60_000
	p.MaxEpochsAhead = 5
	p.MaxCommitteeSize = 10
	g := &Genesis{Params: p, GenesisTime: t0.UnixMilli(), Balances: []GenesisBalance{
		{Address: accountKey(t, 'a').Address(), Amount: 1e9},
		{Address: accountKey(t, 'b').Address(), Amount: 1e9},
	}}
	var keys []*crypto.BLSSecretKey
	var owners []*crypto.AccountKey
	for i := 0; i < 4; i++ {
		k := blsKey(t, byte(100+i))
		o := accountKey(t, byte(200+i))
		keys = append(keys, k)
		owners = append(owners, o)
		g.Nodes = append(g.Nodes, GenesisNode{Owner: o.Address(), Name: "node" + string(rune('0'+i)),
			NetworkAddress: "127.0.0.1:900" + string(rune('0'+i)), NetworkPublicKey: []byte{1, 2, 3},
			BLSPublicKey: k.PublicKey(), ProofOfPossession: protocol.SignProofOfPossession(k, o.Address(), 0),
			Commission: 1000, Stake: uint64(40 - 10*i), StoragePrice: 10, WritePrice: 5, Capacity: 1 << 30})
	}
	return g, keys, owners
}

func newHarness(t testing.TB) *harness {
	g, keys, owners := testGenesis(t)
	s, _, err := NewState(g)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, s: s, now: t0, nodes: keys, owners: owners, alice: accountKey(t, 'a'),
		bob: accountKey(t, 'b'), nonces: map[Address]uint64{}}
}

// sign builds a signed transaction from key with the next nonce.
func (h *harness) sign(key *crypto.AccountKey, op Op) []byte {
	h.t.Helper()
	a := key.Address()
	tx := &Tx{ChainID: h.s.Params().ChainID, Sender: key.PublicKey(), Nonce: h.nonces[a], Op: op}
	raw, err := Sign(tx, key)
	if err != nil {
		h.t.Fatal(err)
	}
	h.nonces[a]++
	return raw
}

// block applies txs in a block one second after the previous one.
func (h *harness) block(txs ...[]byte) *BlockResult {
	h.t.Helper()
	h.now = h.now.Add(time.Second)
	return h.blockAt(h.now, txs...)
}

func (h *harness) blockAt(at time.Time, txs ...[]byte) *BlockResult {
	h.t.Helper()
	h.now = at
	r, err := h.s.ApplyBlock(h.s.Height()+1, at, txs)
	if err != nil {
		h.t.Fatal(err)
	}
	h.blocks = append(h.blocks, txs)
	h.times = append(h.times, at)
	return r
}

// do applies one transaction and returns its result.
func (h *harness) do(key *crypto.AccountKey, op Op) TxResult {
	h.t.Helper()
	return h.block(h.sign(key, op)).Results[0]
}

// ok applies one transaction that must succeed.
func (h *harness) ok(key *crypto.AccountKey, op Op) TxResult {
	h.t.Helper()
	r := h.do(key, op)
	if !r.OK() {
		h.t.Fatalf("transaction failed: %v", r.Err)
	}
	return r
}

// nextEpoch applies an empty block at the next epoch boundary.
func (h *harness) nextEpoch() {
	h.t.Helper()
	e := h.s.Epoch()
	start := time.UnixMilli(h.s.d.EpochStart + h.s.Params().EpochDurationMs)
	h.blockAt(start)
	if h.s.Epoch() != e+1 {
		h.t.Fatalf("epoch %d after boundary, want %d", h.s.Epoch(), e+1)
	}
}

// testBlob returns a blob's registration fields for size bytes with a root derived from seed.
func testBlob(size uint64, seed byte) (blob.ID, Hash) {
	root := merkle.LeafHash([]byte{seed})
	return blob.DeriveID(blob.RS2, size, root), Hash(root)
}

// cert builds a certificate over msg signed by the current committee members at the given
// indices.
func (h *harness) cert(msg []byte, signers ...int) protocol.Certificate {
	h.t.Helper()
	c, ok := h.s.Committee(h.s.Epoch())
	if !ok {
		h.t.Fatal("no committee")
	}
	keyOf := map[crypto.BLSPublicKey]*crypto.BLSSecretKey{}
	for _, k := range h.nodes {
		keyOf[k.PublicKey()] = k
	}
	var sigs []crypto.BLSSignature
	for _, i := range signers {
		sigs = append(sigs, keyOf[crypto.BLSPublicKey(c.Members[i].BLSPublicKey)].Sign(msg))
	}
	agg, err := crypto.AggregateSignatures(sigs)
	if err != nil {
		h.t.Fatal(err)
	}
	bm, err := protocol.Bitmap(len(c.Members), signers)
	if err != nil {
		h.t.Fatal(err)
	}
	return protocol.Certificate{Signers: bm, Message: msg, Signature: agg}
}

// memberIndexByWeight returns committee member indices sorted by descending shard count.
func (h *harness) memberIndexByWeight() []int {
	c, _ := h.s.Committee(h.s.Epoch())
	idx := make([]int, len(c.Members))
	for i := range idx {
		idx[i] = i
	}
	for i := range idx {
		for j := i + 1; j < len(idx); j++ {
			if len(c.Members[idx[j]].Shards) > len(c.Members[idx[i]].Shards) {
				idx[i], idx[j] = idx[j], idx[i]
			}
		}
	}
	return idx
}

// register registers a blob of size bytes for epochs epochs with inline storage.
func (h *harness) register(key *crypto.AccountKey, size uint64, seed byte, epochs uint32, deletable bool) (ObjectID, blob.ID) {
	h.t.Helper()
	bid, root := testBlob(size, seed)
	r := h.ok(key, Op{RegisterBlob: &RegisterBlobOp{EpochsAhead: epochs, BlobID: bid, RootHash: root, Size: size, EncodingType: 1, Deletable: deletable}})
	return ObjectID(r.Created[len(r.Created)-1]), bid
}

// certify certifies a blob with the heaviest members forming a quorum (4+3 of 10 shards).
func (h *harness) certify(key *crypto.AccountKey, obj ObjectID, bid blob.ID, deletable bool) TxResult {
	h.t.Helper()
	p := protocol.Permanent
	if deletable {
		p = protocol.Deletable(obj)
	}
	w := h.memberIndexByWeight()
	msg := protocol.StorageConfirmation{Epoch: h.s.Epoch(), BlobID: bid, Persistence: p}.Encode()
	return h.do(key, Op{CertifyBlob: &CertifyBlobOp{BlobObjectID: obj, Certificate: h.cert(msg, w[0], w[1])}})
}
