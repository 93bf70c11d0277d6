package controlplane

import (
	"crypto/ed25519"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/protocol"
)

// randomBlocks builds a random but reproducible workload (transfers, reservations, blob
// registrations, certifications, deletions, stakes, epoch changes), applying it to h as it goes
// so that later transactions can refer to objects created earlier. It returns the state hash
// after every block.
func randomBlocks(t *testing.T, h *harness, seed uint64, nBlocks int) []Hash {
	return randomBlocksEach(t, h, seed, nBlocks, nil)
}

// randomBlocksEach is randomBlocks calling each (if not nil) after every block.
func randomBlocksEach(t *testing.T, h *harness, seed uint64, nBlocks int, each func(block int)) []Hash {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	users := []*crypto.AccountKey{h.alice, h.bob}
	type reg struct {
		obj       ObjectID
		owner     *crypto.AccountKey
		deletable bool
		bid       [32]byte
	}
	var blobs []reg
	var hashes []Hash
	// The node owners get accounts, to set validator keys.
	var fund [][]byte
	for _, o := range h.owners {
		fund = append(fund, h.sign(h.alice, Op{Transfer: &TransferOp{To: o.Address(), Amount: 1000}}))
	}
	nodeIndex := map[ObjectID]int{}
	for i := range h.nodes {
		nodeIndex[genesisObjectID("node", i)] = i
	}
	for b := 0; b < nBlocks; b++ {
		var txs [][]byte
		if b == 0 {
			txs = fund
		}
		var pending []reg
		step := time.Duration(1+r.IntN(20)) * time.Second
		changes := h.now.Add(step).UnixMilli() >= h.s.d.EpochStart+h.s.Params().EpochDurationMs
		reported := map[ObjectID]bool{}
		for k := r.IntN(4); k > 0; k-- {
			u := users[r.IntN(len(users))]
			switch r.IntN(16) {
			case 14:
				// A pending member reports that it holds its gained shards (from the account
				// derived for it, holding no tokens), unless the block changes the epoch.
				ec := h.s.EpochChange()
				if ec == nil || changes || len(ec.Pending) == 0 {
					break
				}
				id := ObjectID(ec.Pending[r.IntN(len(ec.Pending))])
				i, ok := nodeIndex[id]
				if !ok || reported[id] {
					break
				}
				reported[id] = true
				txs = append(txs, h.report(id, h.nodes[i], ec.Epoch, byte(150+i)))
			case 15:
				// An owner attaches a validator key to its node (or replaces it).
				i := r.IntN(len(h.nodes))
				id := genesisObjectID("node", i)
				vk := validatorKey(t, byte(20+r.IntN(40)))
				msg := cpapi.ValidatorKeyMessage(h.s.Params().ChainID, cpapi.ObjectID(id))
				txs = append(txs, h.sign(h.owners[i], Op{SetValidator: &SetValidatorOp{NodeID: id,
					PublicKey: vk.Public().(ed25519.PublicKey), Signature: ed25519.Sign(vk, msg)}}))
			case 0:
				txs = append(txs, h.sign(u, Op{Transfer: &TransferOp{To: users[r.IntN(2)].Address(), Amount: r.Uint64N(1000)}}))
			case 1:
				txs = append(txs, h.sign(u, Op{ReserveStorage: &ReserveStorageOp{Size: 1 + r.Uint64N(10*MiB), EpochsAhead: 1 + uint32(r.IntN(6))}}))
			case 2, 3:
				size := 1 + r.Uint64N(5000)
				bid, root := testBlob(size, byte(r.IntN(256)))
				del := r.IntN(2) == 0
				raw := h.sign(u, Op{RegisterBlob: &RegisterBlobOp{EpochsAhead: 3 + uint32(r.IntN(3)), BlobID: bid, RootHash: root, Size: size, EncodingType: 1, Deletable: del}})
				txs = append(txs, raw)
				// The blob object is the second object created by the transaction.
				h2 := TxHash(raw)
				pending = append(pending, reg{owner: u, deletable: del, bid: bid, obj: objectIDFor(h2, 1)})
			case 4:
				if len(blobs) > 0 {
					// A recent registration: older ones have often expired.
					x := blobs[len(blobs)-1-r.IntN(min(len(blobs), 4))]
					p := protocol.Permanent
					if x.deletable {
						p = protocol.Deletable(x.obj)
					}
					w := h.memberIndexByWeight()
					msg := protocol.StorageConfirmation{Epoch: h.s.Epoch(), BlobID: x.bid, Persistence: p}.Encode()
					txs = append(txs, h.sign(u, Op{CertifyBlob: &CertifyBlobOp{BlobObjectID: x.obj, Certificate: h.cert(msg, w[0], w[1])}}))
				}
			case 5:
				if len(blobs) > 0 {
					x := blobs[len(blobs)-1-r.IntN(min(len(blobs), 6))]
					txs = append(txs, h.sign(x.owner, Op{DeleteBlob: &DeleteBlobOp{BlobObjectID: x.obj}}))
				}
			case 6:
				c, _ := h.s.Committee(h.s.Epoch())
				txs = append(txs, h.sign(u, Op{Stake: &StakeOp{NodeID: ObjectID(c.Members[r.IntN(len(c.Members))].NodeID), Amount: 1 + r.Uint64N(50)}}))
			case 7:
				if len(blobs) > 0 {
					x := blobs[len(blobs)-1-r.IntN(min(len(blobs), 6))]
					txs = append(txs, h.sign(x.owner, Op{ExtendBlob: &ExtendBlobOp{BlobObjectID: x.obj, Epochs: 1}}))
				}
			case 8:
				if len(blobs) > 0 {
					x := blobs[len(blobs)-1-r.IntN(min(len(blobs), 6))]
					txs = append(txs, h.sign(x.owner, Op{SetAttributes: &SetAttributesOp{BlobObjectID: x.obj,
						Set: map[string]string{"k": string(rune('a' + r.IntN(26)))}}}))
				}
			case 9:
				// Split or fuse one of the sender's storage resources, or give one away.
				var own []*Storage
				for _, id := range sortedIDs(h.s.d.Storage) {
					if st := h.s.d.Storage[id]; st.Owner == u.Address() {
						own = append(own, st)
					}
				}
				if len(own) == 0 {
					break
				}
				st := own[r.IntN(len(own))]
				switch r.IntN(3) {
				case 0:
					txs = append(txs, h.sign(u, Op{SplitStorage: &SplitStorageOp{StorageID: st.ID, Size: 1 + r.Uint64N(st.Size)}}))
				case 1:
					if len(own) > 1 {
						txs = append(txs, h.sign(u, Op{FuseStorage: &FuseStorageOp{First: own[0].ID, Second: own[1].ID}}))
					}
				case 2:
					txs = append(txs, h.sign(u, Op{TransferObject: &TransferObjectOp{ObjectID: st.ID, To: users[r.IntN(2)].Address()}}))
				}
			case 10:
				if ids := sortedIDs(h.s.d.Stakes); len(ids) > 0 {
					st := h.s.d.Stakes[ids[r.IntN(len(ids))]]
					for _, k := range users {
						if k.Address() == st.Owner {
							txs = append(txs, h.sign(k, Op{WithdrawStake: &WithdrawStakeOp{StakeID: st.ID}}))
						}
					}
				}
			case 11:
				c, _ := h.s.Committee(h.s.Epoch())
				w := h.memberIndexByWeight()
				bid, _ := testBlob(1+r.Uint64N(5000), byte(r.IntN(256)))
				msg := protocol.InvalidBlobID{Epoch: c.Epoch, BlobID: bid}.Encode()
				txs = append(txs, h.sign(u, Op{InvalidateBlob: &InvalidateBlobOp{Certificate: h.cert(msg, w[0])}}))
			case 12:
				// Members' shares of the current round (storage challenges).
				c, _ := h.s.Committee(h.s.Epoch())
				for i := range c.Members {
					if r.IntN(2) == 0 {
						txs = append(txs, h.sign(u, h.shareOp(i, 0)))
					}
				}
			case 13:
				// Attestations of a member's challenge, pass or fail, by some members.
				c, _ := h.s.Committee(h.s.Epoch())
				n := len(c.Members)
				signers := []int{r.IntN(n)}
				for i := range n {
					if i != signers[0] && r.IntN(2) == 0 {
						signers = append(signers, i)
					}
				}
				txs = append(txs, h.sign(u, h.attestOp(r.IntN(n), 0, r.IntN(4) != 0, signers...)))
			}
		}
		h.blockAt(h.now.Add(step), txs...)
		blobs = append(blobs, pending...)
		hashes = append(hashes, h.s.Hash())
		if each != nil {
			each(b)
		}
	}
	return hashes
}

func objectIDFor(txHash Hash, i uint32) ObjectID {
	s := &State{txHash: txHash}
	var id ObjectID
	for k := uint32(0); k <= i; k++ {
		id = s.newObjectID()
	}
	return id
}

func TestDeterminism(t *testing.T) {
	const nBlocks = 60
	for seed := uint64(1); seed <= 3; seed++ {
		h1 := newHarness(t)
		hashes := randomBlocks(t, h1, seed, nBlocks)
		if h1.s.Epoch() < 3 {
			t.Fatalf("seed %d: workload stayed in epoch %d; it should cross epoch changes", seed, h1.s.Epoch())
		}
		okCount := 0
		var err error
		// Replay the same blocks on a fresh state, through the pre-verified path: same hash
		// after every block.
		h2 := newHarness(t)
		for i, txs := range h1.blocks {
			vtxs := make([]*VerifiedTx, len(txs))
			for k, raw := range txs {
				if vtxs[k], err = VerifyTx(raw); err != nil {
					t.Fatal(err)
				}
			}
			r, err := h2.s.ApplyVerifiedBlock(uint64(i+1), h1.times[i], vtxs)
			if err != nil {
				t.Fatal(err)
			}
			for _, tr := range r.Results {
				if tr.OK() {
					okCount++
				}
			}
			if r.AppHash != hashes[i] {
				t.Fatalf("seed %d: block %d hash differs on replay", seed, i+1)
			}
		}
		if okCount < nBlocks/2 {
			t.Fatalf("seed %d: only %d successful transactions; the workload tests too little", seed, okCount)
		}
		// Restart in the middle: snapshot, restore, continue.
		mid := nBlocks / 2
		h3 := newHarness(t)
		for i := 0; i < mid; i++ {
			if _, err := h3.s.ApplyBlock(uint64(i+1), h1.times[i], h1.blocks[i]); err != nil {
				t.Fatal(err)
			}
		}
		snap, err := h3.s.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		restored, err := Restore(snap)
		if err != nil {
			t.Fatal(err)
		}
		if restored.Hash() != hashes[mid-1] {
			t.Fatal("restored state hash differs")
		}
		for i := mid; i < nBlocks; i++ {
			r, err := restored.ApplyBlock(uint64(i+1), h1.times[i], h1.blocks[i])
			if err != nil {
				t.Fatal(err)
			}
			if r.AppHash != hashes[i] {
				t.Fatalf("seed %d: block %d hash differs after a restart at %d", seed, i+1, mid)
			}
		}
		// Blob-ID index survives the restart.
		for bid := range h1.s.byBlobID {
			if len(restored.byBlobID[bid]) != len(h1.s.byBlobID[bid]) {
				t.Fatal("blob index differs after restore")
			}
		}
	}
}

func TestApplyBlockRejectsBadHeightAndTime(t *testing.T) {
	h := newHarness(t)
	if _, err := h.s.ApplyBlock(5, t0.Add(time.Second), nil); err == nil {
		t.Fatal("skipped height accepted")
	}
	h.block()
	if _, err := h.s.ApplyBlock(2, t0.Add(-time.Second), nil); err == nil {
		t.Fatal("time going back accepted")
	}
}

// TestStateMachineImports keeps the state machine free of I/O, network, database, clock and
// consensus packages: none anywhere in its dependencies, and no os/io-fs/syscall/log in its own
// imports (fmt needs os underneath, which is fine).
func TestStateMachineImports(t *testing.T) {
	deps, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	direct, err := exec.Command("go", "list", "-f", "{{join .Imports \"\\n\"}}", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	forbiddenDeps := []string{"net", "net/http", "os/exec", "database/sql", "os/signal"}
	forbiddenPrefixes := []string{"github.com/cockroachdb/", "github.com/cometbft/", "net/", "github.com/floelabs/floe/internal/controlplane/"}
	for _, dep := range strings.Fields(string(deps)) {
		for _, f := range forbiddenDeps {
			if dep == f {
				t.Errorf("state machine depends on %s", dep)
			}
		}
		for _, p := range forbiddenPrefixes {
			if strings.HasPrefix(dep, p) {
				t.Errorf("state machine depends on %s", dep)
			}
		}
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(src), "time.Now") || strings.Contains(string(src), "time.Since") {
			t.Errorf("%s reads the wall clock", f)
		}
	}
	imports := strings.Fields(string(direct))
	if len(imports) < 3 {
		t.Fatalf("go list found too few imports: %v", imports)
	}
	for _, imp := range imports {
		switch imp {
		case "os", "io/fs", "syscall", "log", "log/slog", "math/rand", "math/rand/v2", "crypto/rand", "runtime", "sync":
			t.Errorf("state machine imports %s", imp)
		}
	}
}

// TestStateHoldsNoWireTypes: the hashed state is made of the state machine's own records,
// never of the wire vocabulary (api/controlplane), so that a change of the API (a renamed JSON
// field, say) cannot change the app hash and fork the chain.
func TestStateHoldsNoWireTypes(t *testing.T) {
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type, string)
	walk = func(ty reflect.Type, path string) {
		if seen[ty] {
			return
		}
		seen[ty] = true
		if strings.HasSuffix(ty.PkgPath(), "/api/controlplane") {
			t.Errorf("%s is %s, a wire type", path, ty)
		}
		switch ty.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array:
			walk(ty.Elem(), path+"[]")
		case reflect.Map:
			walk(ty.Key(), path+"{key}")
			walk(ty.Elem(), path+"{}")
		case reflect.Struct:
			for i := range ty.NumField() {
				walk(ty.Field(i).Type, path+"."+ty.Field(i).Name)
			}
		}
	}
	walk(reflect.TypeOf(data{}), "state")
	if len(seen) < 20 {
		t.Fatalf("walked only %d types", len(seen))
	}
}
