package controlplane

import (
	"errors"
	"fmt"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/merkle"
	"github.com/floelabs/floe/internal/protocol"
	"github.com/floelabs/floe/redstuff"
)

// TxResult is the outcome of one transaction in a block: its wire form, and the error itself.
type TxResult struct {
	cpapi.TxResult
	// Err is the error of a failed transaction (nil on success).
	Err error
}

// BlockResult is the outcome of a block.
type BlockResult struct {
	Height uint64
	TimeMs int64
	Epoch  uint32
	// BlockEvents are emitted by the block itself (epoch change, rewards) before its
	// transactions.
	BlockEvents []cpapi.Event
	Results     []TxResult
	// EndEvents are emitted by the block itself after its transactions (a challenge round's
	// seed fixed by the shares the block recorded).
	EndEvents []cpapi.Event
	AppHash   Hash
	// ValidatorUpdates are the changes of the CometBFT validator set at this block's epoch
	// change (validators.go), sorted by key; nil if none.
	ValidatorUpdates []ValidatorUpdate
}

// Events returns every event of the block in sequence order.
func (r *BlockResult) Events() []cpapi.Event {
	out := append([]cpapi.Event(nil), r.BlockEvents...)
	for _, tr := range r.Results {
		out = append(out, tr.Events...)
	}
	return append(out, r.EndEvents...)
}

// Included returns the outcome of transaction i with the block that included it, as the API
// serves it.
func (r *BlockResult) Included(i int) cpapi.Included {
	inc := cpapi.Included{Height: r.Height, TimeMs: r.TimeMs, TxResult: r.Results[i].TxResult}
	if inc.Events == nil {
		inc.Events = []cpapi.Event{}
	}
	return inc
}

// ErrBlock is returned by ApplyBlock for a block that does not follow the current state (a
// driver bug, not a transaction error).
var ErrBlock = errors.New("controlplane: block does not follow the state")

// ApplyBlock applies a block of transactions at the given height (the current height + 1) and
// block time (not before the previous block's). An epoch change due at this time happens first.
// Every transaction gets a result; a rejected transaction changes nothing but, if it was well
// signed with the expected nonce, its sender's nonce.
func (s *State) ApplyBlock(height uint64, blockTime time.Time, txs [][]byte) (*BlockResult, error) {
	vtxs := make([]*VerifiedTx, len(txs))
	errs := make([]error, len(txs))
	for i, raw := range txs {
		vtxs[i], errs[i] = VerifyTx(raw)
		if errs[i] != nil {
			vtxs[i] = &VerifiedTx{raw: raw, hash: TxHash(raw)}
		}
	}
	return s.applyBlock(height, blockTime, vtxs, errs)
}

// ApplyVerifiedBlock is ApplyBlock for transactions already decoded and signature-checked by
// VerifyTx (for example at admission, in parallel): it gives the same results and state, without
// checking the signatures again.
func (s *State) ApplyVerifiedBlock(height uint64, blockTime time.Time, txs []*VerifiedTx) (*BlockResult, error) {
	return s.applyBlock(height, blockTime, txs, make([]error, len(txs)))
}

func (s *State) applyBlock(height uint64, blockTime time.Time, txs []*VerifiedTx, errs []error) (*BlockResult, error) {
	ms := blockTime.UnixMilli()
	if height != s.d.Height+1 {
		return nil, fmt.Errorf("%w: height %d after %d", ErrBlock, height, s.d.Height)
	}
	if ms < s.d.TimeMs {
		return nil, fmt.Errorf("%w: time %d before %d", ErrBlock, ms, s.d.TimeMs)
	}
	s.d.Height = height
	s.d.TimeMs = ms
	s.events, s.created, s.txHash, s.valUpdates = nil, nil, Hash{}, nil
	s.advanceEpoch(ms)
	s.challengeBlockBegin(ms)
	res := &BlockResult{Height: height, TimeMs: ms, BlockEvents: eventsAPI(s.events), ValidatorUpdates: s.valUpdates}
	s.events, s.valUpdates = nil, nil
	res.Results = make([]TxResult, len(txs))
	for i, vt := range txs {
		res.Results[i] = s.applyTx(vt, errs[i])
	}
	s.challengeBlockEnd()
	res.EndEvents = eventsAPI(s.events)
	s.events = nil
	res.Epoch = s.d.Epoch
	res.AppHash = s.Hash()
	return res, nil
}

// VerifiedTx is a transaction whose encoding and signature VerifyTx checked.
type VerifiedTx struct {
	raw  []byte
	tx   *Tx
	hash Hash
}

// VerifyTx decodes a signed transaction and checks its encoding and signature.
func VerifyTx(raw []byte) (*VerifiedTx, error) {
	tx, err := DecodeTx(raw)
	if err != nil {
		return nil, err
	}
	return &VerifiedTx{raw: raw, tx: tx, hash: TxHash(raw)}, nil
}

// Tx returns the decoded transaction.
func (v *VerifiedTx) Tx() *Tx { return v.tx }

// Raw returns the wire bytes.
func (v *VerifiedTx) Raw() []byte { return v.raw }

// Hash returns the transaction hash.
func (v *VerifiedTx) Hash() Hash { return v.hash }

// CheckTx validates a transaction for admission to a block: encoding, signature, chain, that
// its nonce is not already used, and that it can pay (see CheckVerified). It does not execute
// it. The signature check needs no lock on the state; CheckVerified does the rest.
func (s *State) CheckTx(raw []byte) (*VerifiedTx, error) {
	vt, err := VerifyTx(raw)
	if err != nil {
		return nil, err
	}
	return vt, s.CheckVerified(vt)
}

// CheckVerified checks a verified transaction against the state for admission: its chain, an
// unused nonce, and that it can pay. A transaction carrying a certificate (certify or
// invalidate a blob) is admitted when its certificate verifies against the current committee,
// whoever sends it (storage nodes send them from accounts that may hold nothing). Any other
// transaction needs an existing account (one that received tokens) holding what the
// operation pays (the amount transferred or staked, the storage and write fees at the current
// prices). This keeps transactions that could only fail, from keys that never paid anything,
// out of blocks; ApplyBlock does not rely on it (see applyTx).
func (s *State) CheckVerified(vt *VerifiedTx) error {
	tx := vt.tx
	if tx.ChainID != s.d.Params.ChainID {
		return fmt.Errorf("%w: %q, want %q", ErrWrongChain, tx.ChainID, s.d.Params.ChainID)
	}
	acc := s.d.Accounts[tx.Sender.Address()]
	if acc != nil && tx.Nonce < acc.Nonce {
		return fmt.Errorf("%w: nonce %d already used (next is %d)", ErrBadNonce, tx.Nonce, acc.Nonce)
	}
	return s.checkCanPay(acc, &tx.Op)
}

// checkCanPay is the admission check of what a transaction pays (CheckVerified).
func (s *State) checkCanPay(acc *Account, op *Op) error {
	switch {
	case op.CertifyBlob != nil:
		return s.checkCertificate(&op.CertifyBlob.Certificate, protocol.Quorum)
	case op.InvalidateBlob != nil:
		return s.checkCertificate(&op.InvalidateBlob.Certificate, protocol.Validity)
	case op.ChallengeShare != nil:
		_, _, err := s.checkChallengeShare(op.ChallengeShare)
		return err
	case op.ChallengeCertificate != nil:
		_, err := s.checkChallengeCertificate(&op.ChallengeCertificate.Certificate)
		return err
	case op.EpochSyncDone != nil:
		_, _, err := s.checkEpochSyncDone(op.EpochSyncDone)
		return err
	}
	if acc == nil {
		return fmt.Errorf("%w: the sender's account does not exist (it has never received tokens)", ErrInsufficientBalance)
	}
	var need uint64
	var err error
	switch {
	case op.Transfer != nil:
		need = op.Transfer.Amount
	case op.Stake != nil:
		need = op.Stake.Amount
	case op.ReserveStorage != nil:
		need, err = s.StorageCost(op.ReserveStorage.Size, op.ReserveStorage.EpochsAhead)
	case op.RegisterBlob != nil:
		var enc, storage, write uint64
		if enc, err = s.EncodedLength(op.RegisterBlob.Size); err == nil {
			if storage, err = s.StorageCost(enc, op.RegisterBlob.EpochsAhead); err == nil {
				write, err = s.writeFee(enc)
			}
		}
		need = storage + write
		if op.RegisterBlob.StorageID != (ObjectID{}) || storage+write < storage {
			need = write
		}
	case op.ExtendBlob != nil:
		if b := s.d.Blobs[op.ExtendBlob.BlobObjectID]; b != nil && !b.Shared {
			need, err = s.StorageCost(b.Storage.Size, op.ExtendBlob.Epochs)
		}
	case op.ShareBlob != nil:
		need = op.ShareBlob.Amount
	case op.FundSharedBlob != nil:
		need = op.FundSharedBlob.Amount
	}
	if err != nil {
		return nil // the operation fails in its block, from an account that exists
	}
	if acc.Balance < need {
		return fmt.Errorf("%w: the operation pays %d, the sender has %d", ErrInsufficientBalance, need, acc.Balance)
	}
	return nil
}

// checkCertificate verifies a certificate's signatures against the current committee for
// admission; what it certifies is checked when the transaction executes.
func (s *State) checkCertificate(cert *protocol.Certificate, t protocol.Threshold) error {
	h, _, err := protocol.ParseHeader(cert.Message)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrWrongMessage, err)
	}
	if h.Epoch != s.d.Epoch {
		return fmt.Errorf("%w: %d, current %d", ErrWrongEpoch, h.Epoch, s.d.Epoch)
	}
	return s.verifyCert(cert, t)
}

func (s *State) writeFee(encoded uint64) (uint64, error) {
	c, err := s.committee()
	if err != nil {
		return 0, err
	}
	return mul3(c.WritePrice, units(encoded), 1)
}

func (s *State) applyTx(vt *VerifiedTx, decodeErr error) TxResult {
	s.txHash = vt.hash
	s.created, s.events = nil, nil
	defer func() { s.txHash, s.created, s.events = Hash{}, nil, nil }()
	res := TxResult{TxResult: cpapi.TxResult{Hash: cpapi.Hash(s.txHash)}}
	fail := func(err error) TxResult {
		res.Err, res.Code, res.Error = err, ErrorCode(err), err.Error()
		res.Events, res.Created = nil, nil
		return res
	}
	if decodeErr != nil {
		return fail(decodeErr)
	}
	tx := vt.tx
	if tx.ChainID != s.d.Params.ChainID {
		return fail(fmt.Errorf("%w: %q, want %q", ErrWrongChain, tx.ChainID, s.d.Params.ChainID))
	}
	sender := tx.Sender.Address()
	acc := s.d.Accounts[sender]
	next := uint64(0)
	if acc != nil {
		next = acc.Nonce
	}
	if tx.Nonce != next {
		return fail(fmt.Errorf("%w: got %d, want %d", ErrBadNonce, tx.Nonce, next))
	}
	if acc == nil {
		// An unknown sender (a key that never received tokens): only a transaction that
		// succeeds (one carrying a valid certificate, in practice) creates its account. A
		// failing one changes nothing, not even a nonce, so that transactions from fresh keys
		// that a proposer includes cost the ledger nothing.
		if err := s.execute(sender, &tx.Op); err != nil {
			return fail(err)
		}
		s.account(sender).Nonce++
	} else {
		s.account(sender).Nonce++
		if err := s.execute(sender, &tx.Op); err != nil {
			return fail(err)
		}
	}
	res.Events = eventsAPI(s.events)
	for _, id := range s.created {
		res.Created = append(res.Created, cpapi.ObjectID(id))
	}
	return res
}

func (s *State) execute(sender Address, op *Op) error {
	switch {
	case op.Transfer != nil:
		return s.transfer(sender, op.Transfer)
	case op.RegisterNode != nil:
		return s.registerNode(sender, op.RegisterNode)
	case op.UpdateNode != nil:
		return s.updateNode(sender, op.UpdateNode)
	case op.SetVotes != nil:
		return s.setVotes(sender, op.SetVotes)
	case op.Stake != nil:
		return s.stake(sender, op.Stake)
	case op.WithdrawStake != nil:
		return s.withdrawStake(sender, op.WithdrawStake)
	case op.ReserveStorage != nil:
		_, err := s.reserve(sender, op.ReserveStorage.Size, op.ReserveStorage.EpochsAhead)
		return err
	case op.SplitStorage != nil:
		return s.splitStorage(sender, op.SplitStorage)
	case op.FuseStorage != nil:
		return s.fuseStorage(sender, op.FuseStorage)
	case op.RegisterBlob != nil:
		return s.registerBlob(sender, op.RegisterBlob)
	case op.CertifyBlob != nil:
		return s.certifyBlob(op.CertifyBlob)
	case op.InvalidateBlob != nil:
		return s.invalidateBlob(op.InvalidateBlob)
	case op.ExtendBlob != nil:
		return s.extendBlob(sender, op.ExtendBlob)
	case op.DeleteBlob != nil:
		return s.deleteBlob(sender, op.DeleteBlob)
	case op.SetAttributes != nil:
		return s.setAttributes(sender, op.SetAttributes)
	case op.TransferObject != nil:
		return s.transferObject(sender, op.TransferObject)
	case op.ChallengeShare != nil:
		return s.challengeShare(op.ChallengeShare)
	case op.ChallengeCertificate != nil:
		return s.challengeCertificate(op.ChallengeCertificate)
	case op.ShareBlob != nil:
		return s.shareBlob(sender, op.ShareBlob)
	case op.FundSharedBlob != nil:
		return s.fundSharedBlob(sender, op.FundSharedBlob)
	case op.EpochSyncDone != nil:
		return s.epochSyncDone(op.EpochSyncDone)
	case op.SetValidator != nil:
		return s.setValidator(sender, op.SetValidator)
	}
	return fmt.Errorf("%w: no operation", ErrInvalidTx)
}

func (s *State) debit(a Address, amount uint64) error {
	acc := s.d.Accounts[a]
	if acc == nil || acc.Balance < amount {
		have := uint64(0)
		if acc != nil {
			have = acc.Balance
		}
		return fmt.Errorf("%w: need %d, have %d", ErrInsufficientBalance, amount, have)
	}
	s.touchID(tableAccount, a)
	acc.Balance -= amount
	return nil
}

func (s *State) checkCredit(a Address, amount uint64) error {
	if acc := s.d.Accounts[a]; acc != nil && acc.Balance+amount < acc.Balance {
		return ErrOverflow
	}
	return nil
}

func (s *State) transfer(from Address, op *TransferOp) error {
	if from != op.To {
		if err := s.checkCredit(op.To, op.Amount); err != nil {
			return err
		}
	}
	if err := s.debit(from, op.Amount); err != nil {
		return err
	}
	s.account(op.To).Balance += op.Amount
	s.emit(Event{Type: EventTransfer, Owner: from, To: op.To, Amount: op.Amount})
	return nil
}

// Limits on node and blob metadata.
const (
	MaxNameLen          = 64
	MaxNetworkAddrLen   = 256
	MaxNetworkKeyLen    = 128
	MaxAttributes       = 64
	MaxAttributeKeyLen  = 128
	MaxAttributeValLen  = 1024
	MaxCommissionBasisP = 10000
)

func checkNodeFields(name, addr string, netKey []byte, commission uint16) error {
	switch {
	case name == "" || len(name) > MaxNameLen:
		return fmt.Errorf("%w: node name must be 1..%d bytes", ErrInvalidTx, MaxNameLen)
	case addr == "" || len(addr) > MaxNetworkAddrLen:
		return fmt.Errorf("%w: network address must be 1..%d bytes", ErrInvalidTx, MaxNetworkAddrLen)
	case len(netKey) == 0 || len(netKey) > MaxNetworkKeyLen:
		return fmt.Errorf("%w: network public key must be 1..%d bytes", ErrInvalidTx, MaxNetworkKeyLen)
	case commission > MaxCommissionBasisP:
		return fmt.Errorf("%w: commission %d above %d basis points", ErrInvalidTx, commission, MaxCommissionBasisP)
	}
	return nil
}

func checkNodeKey(pk crypto.BLSPublicKey, owner Address, epoch uint32, pop crypto.BLSSignature) error {
	if err := pk.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrBadPoP, err)
	}
	if err := protocol.VerifyProofOfPossession(pk, owner, epoch, pop); err != nil {
		return fmt.Errorf("%w: %w", ErrBadPoP, err)
	}
	return nil
}

func (s *State) registerNode(sender Address, op *RegisterNodeOp) error {
	if err := checkNodeFields(op.Name, op.NetworkAddress, op.NetworkPublicKey, op.Commission); err != nil {
		return err
	}
	if err := checkNodeKey(op.BLSPublicKey, sender, s.d.Epoch, op.ProofOfPossession); err != nil {
		return err
	}
	if err := s.checkKeyUnused(op.BLSPublicKey, ObjectID{}); err != nil {
		return err
	}
	id := s.newObjectID()
	s.touchID(tableNode, id)
	s.d.Nodes[id] = &Node{ID: id, Owner: sender, Name: op.Name, NetworkAddress: op.NetworkAddress,
		NetworkPublicKey: op.NetworkPublicKey, BLSPublicKey: op.BLSPublicKey, Commission: op.Commission,
		StoragePrice: op.StoragePrice, WritePrice: op.WritePrice, Capacity: op.Capacity, RegisteredEpoch: s.d.Epoch}
	s.emit(Event{Type: EventNodeRegistered, NodeID: id, Owner: sender})
	return nil
}

// checkKeyUnused rejects a BLS key that another node (not self) already registered: one key
// behind two members would let one signature count twice in a certificate's weight.
func (s *State) checkKeyUnused(pk crypto.BLSPublicKey, self ObjectID) error {
	for id, n := range s.d.Nodes {
		if id != self && n.BLSPublicKey == pk {
			return fmt.Errorf("%w: BLS key already registered by node %s", ErrBadPoP, id)
		}
	}
	return nil
}

func (s *State) ownedNode(sender Address, id ObjectID) (*Node, error) {
	n := s.d.Nodes[id]
	if n == nil {
		return nil, fmt.Errorf("%w: node %s", ErrNotFound, id)
	}
	if n.Owner != sender {
		return nil, fmt.Errorf("%w: node %s", ErrNotOwner, id)
	}
	s.touchID(tableNode, id) // the caller may change it
	return n, nil
}

func (s *State) updateNode(sender Address, op *UpdateNodeOp) error {
	n, err := s.ownedNode(sender, op.NodeID)
	if err != nil {
		return err
	}
	upd := *n
	if op.Name != nil {
		upd.Name = *op.Name
	}
	if op.NetworkAddress != nil {
		upd.NetworkAddress = *op.NetworkAddress
	}
	if op.NetworkPublicKey != nil {
		upd.NetworkPublicKey = op.NetworkPublicKey
	}
	if op.Commission != nil {
		upd.Commission = *op.Commission
	}
	if err := checkNodeFields(upd.Name, upd.NetworkAddress, upd.NetworkPublicKey, upd.Commission); err != nil {
		return err
	}
	if op.BLSPublicKey != nil {
		if op.ProofOfPossession == nil {
			return fmt.Errorf("%w: a new BLS key needs a proof of possession", ErrBadPoP)
		}
		if err := checkNodeKey(*op.BLSPublicKey, sender, s.d.Epoch, *op.ProofOfPossession); err != nil {
			return err
		}
		if err := s.checkKeyUnused(*op.BLSPublicKey, n.ID); err != nil {
			return err
		}
		upd.BLSPublicKey = *op.BLSPublicKey
	}
	*n = upd
	s.emit(Event{Type: EventNodeUpdated, NodeID: n.ID, Owner: sender})
	return nil
}

func (s *State) setVotes(sender Address, op *SetVotesOp) error {
	n, err := s.ownedNode(sender, op.NodeID)
	if err != nil {
		return err
	}
	n.StoragePrice, n.WritePrice, n.Capacity = op.StoragePrice, op.WritePrice, op.Capacity
	s.emit(Event{Type: EventVotesSet, NodeID: n.ID, Owner: sender})
	return nil
}

func (s *State) stake(sender Address, op *StakeOp) error {
	if s.d.Nodes[op.NodeID] == nil {
		return fmt.Errorf("%w: node %s", ErrNotFound, op.NodeID)
	}
	if op.Amount == 0 {
		return fmt.Errorf("%w: zero amount", ErrStake)
	}
	if err := s.debit(sender, op.Amount); err != nil {
		return err
	}
	id := s.newObjectID()
	s.touchID(tableStake, id)
	// The stake counts from the first epoch whose committee is not selected yet: the next
	// one before voting end, the one after it once the next committee is chosen.
	from := s.selectedThrough() + 1
	s.d.Stakes[id] = &Stake{ID: id, Owner: sender, NodeID: op.NodeID, Amount: op.Amount, ActivationEpoch: from}
	s.emit(Event{Type: EventStaked, ObjectID: id, NodeID: op.NodeID, Owner: sender, Amount: op.Amount, StartEpoch: from})
	return nil
}

func (s *State) withdrawStake(sender Address, op *WithdrawStakeOp) error {
	st := s.d.Stakes[op.StakeID]
	if st == nil {
		return fmt.Errorf("%w: stake %s", ErrNotFound, op.StakeID)
	}
	if st.Owner != sender {
		return fmt.Errorf("%w: stake %s", ErrNotOwner, op.StakeID)
	}
	if st.WithdrawEpoch != 0 {
		return fmt.Errorf("%w: withdrawal already requested", ErrStake)
	}
	s.touchID(tableStake, op.StakeID)
	if st.ActivationEpoch > s.selectedThrough() {
		// Not counted in any selected committee: return at once.
		if err := s.checkCredit(sender, st.Amount); err != nil {
			return err
		}
		s.account(sender).Balance += st.Amount
		delete(s.d.Stakes, op.StakeID)
		s.emit(Event{Type: EventStakeReturned, ObjectID: st.ID, NodeID: st.NodeID, Owner: sender, Amount: st.Amount})
		return nil
	}
	// It counts in every committee already selected and is returned when the last of them
	// ends.
	st.WithdrawEpoch = s.selectedThrough() + 1
	s.emit(Event{Type: EventStakeWithdrawn, ObjectID: st.ID, NodeID: st.NodeID, Owner: sender, Amount: st.Amount, EndEpoch: st.WithdrawEpoch})
	return nil
}

// units returns ceil(size / MiB).
func units(size uint64) uint64 { return size/MiB + min(size%MiB, 1) }

func (s *State) committee() (*Committee, error) {
	c := s.d.Committees[s.d.Epoch]
	if c == nil || len(c.Members) == 0 {
		return nil, fmt.Errorf("%w: epoch %d", ErrNoCommittee, s.d.Epoch)
	}
	return c, nil
}

// StorageCost returns the price of size bytes of encoded storage for epochs epochs at the
// current prices.
func (s *State) StorageCost(size uint64, epochs uint32) (uint64, error) {
	c, err := s.committee()
	if err != nil {
		return 0, err
	}
	return mul3(c.StoragePrice, units(size), uint64(epochs))
}

func mul3(a, b, c uint64) (uint64, error) {
	hi, lo := mulFull(a, b)
	if hi != 0 {
		return 0, ErrOverflow
	}
	hi, lo = mulFull(lo, c)
	if hi != 0 {
		return 0, ErrOverflow
	}
	return lo, nil
}

// checkReserve validates buying size bytes for [start, end) and returns the total cost.
func (s *State) checkReserve(size uint64, start, end uint32) (uint64, error) {
	c, err := s.committee()
	if err != nil {
		return 0, err
	}
	if size == 0 {
		return 0, fmt.Errorf("%w: zero storage size", ErrInvalidTx)
	}
	if end <= start {
		return 0, fmt.Errorf("%w: empty epoch range", ErrInvalidTx)
	}
	if end-s.d.Epoch > s.d.Params.MaxEpochsAhead {
		return 0, fmt.Errorf("%w: ends %d epochs ahead, limit %d", ErrEpochsAhead, end-s.d.Epoch, s.d.Params.MaxEpochsAhead)
	}
	for e := start; e < end; e++ {
		if used := s.d.Used[e]; used+size < used || used+size > c.Capacity {
			return 0, fmt.Errorf("%w: epoch %d has %d of %d bytes reserved, %d more requested", ErrCapacity, e, used, c.Capacity, size)
		}
	}
	return mul3(c.StoragePrice, units(size), uint64(end-start))
}

func (s *State) commitReserve(size uint64, start, end uint32) {
	c := s.d.Committees[s.d.Epoch]
	per := c.StoragePrice * units(size)
	for e := start; e < end; e++ {
		s.touchEpoch(tableUsed, e)
		s.touchEpoch(tableRewards, e)
		s.d.Used[e] += size
		s.d.Rewards[e] += per
	}
}

func (s *State) reserve(sender Address, size uint64, epochsAhead uint32) (*Storage, error) {
	if epochsAhead == 0 {
		return nil, fmt.Errorf("%w: zero epochs", ErrInvalidTx)
	}
	if epochsAhead > s.d.Params.MaxEpochsAhead {
		return nil, fmt.Errorf("%w: %d epochs, limit %d", ErrEpochsAhead, epochsAhead, s.d.Params.MaxEpochsAhead)
	}
	start, end := s.d.Epoch, s.d.Epoch+epochsAhead
	cost, err := s.checkReserve(size, start, end)
	if err != nil {
		return nil, err
	}
	if err := s.debit(sender, cost); err != nil {
		return nil, err
	}
	s.commitReserve(size, start, end)
	id := s.newObjectID()
	st := &Storage{ID: id, Owner: sender, Start: start, End: end, Size: size}
	s.touchID(tableStorage, id)
	s.d.Storage[id] = st
	s.emit(Event{Type: EventStorageReserved, ObjectID: id, Owner: sender, Size: size, StartEpoch: start, EndEpoch: end, Amount: cost})
	return st, nil
}

func (s *State) ownedStorage(sender Address, id ObjectID) (*Storage, error) {
	st := s.d.Storage[id]
	if st == nil {
		return nil, fmt.Errorf("%w: storage %s", ErrNotFound, id)
	}
	if st.Owner != sender {
		return nil, fmt.Errorf("%w: storage %s", ErrNotOwner, id)
	}
	s.touchID(tableStorage, id) // the caller may change or delete it
	return st, nil
}

func (s *State) splitStorage(sender Address, op *SplitStorageOp) error {
	st, err := s.ownedStorage(sender, op.StorageID)
	if err != nil {
		return err
	}
	switch {
	case op.AtEpoch != 0 && op.Size == 0:
		if op.AtEpoch <= st.Start || op.AtEpoch >= st.End {
			return fmt.Errorf("%w: split epoch %d outside (%d, %d)", ErrInvalidTx, op.AtEpoch, st.Start, st.End)
		}
		id := s.newObjectID()
		s.touchID(tableStorage, id)
		s.d.Storage[id] = &Storage{ID: id, Owner: sender, Start: op.AtEpoch, End: st.End, Size: st.Size}
		st.End = op.AtEpoch
		s.emit(Event{Type: EventStorageSplit, ObjectID: id, Owner: sender, Size: st.Size, StartEpoch: op.AtEpoch, EndEpoch: s.d.Storage[id].End})
	case op.Size != 0 && op.AtEpoch == 0:
		if op.Size >= st.Size {
			return fmt.Errorf("%w: split size %d not below %d", ErrInvalidTx, op.Size, st.Size)
		}
		id := s.newObjectID()
		s.touchID(tableStorage, id)
		s.d.Storage[id] = &Storage{ID: id, Owner: sender, Start: st.Start, End: st.End, Size: op.Size}
		st.Size -= op.Size
		s.emit(Event{Type: EventStorageSplit, ObjectID: id, Owner: sender, Size: op.Size, StartEpoch: st.Start, EndEpoch: st.End})
	default:
		return fmt.Errorf("%w: split by exactly one of epoch or size", ErrInvalidTx)
	}
	return nil
}

func (s *State) fuseStorage(sender Address, op *FuseStorageOp) error {
	if op.First == op.Second {
		return fmt.Errorf("%w: cannot fuse a resource with itself", ErrInvalidTx)
	}
	a, err := s.ownedStorage(sender, op.First)
	if err != nil {
		return err
	}
	b, err := s.ownedStorage(sender, op.Second)
	if err != nil {
		return err
	}
	switch {
	case a.Start == b.Start && a.End == b.End:
		if a.Size+b.Size < a.Size {
			return ErrOverflow
		}
		a.Size += b.Size
	case a.Size == b.Size && (a.End == b.Start || b.End == a.Start):
		a.Start, a.End = min(a.Start, b.Start), max(a.End, b.End)
	default:
		return fmt.Errorf("%w: fuse needs equal periods or equal sizes with adjacent periods", ErrInvalidTx)
	}
	delete(s.d.Storage, op.Second)
	s.emit(Event{Type: EventStorageFused, ObjectID: a.ID, Owner: sender, Size: a.Size, StartEpoch: a.Start, EndEpoch: a.End})
	return nil
}

// EncodedLength returns the encoded length charged for a blob of size bytes.
func (s *State) EncodedLength(size uint64) (uint64, error) {
	p, err := redstuff.NewParams(s.d.Params.NShards)
	if err != nil {
		return 0, err
	}
	n, err := p.EncodedLength(size)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInvalidTx, err)
	}
	return n, nil
}

func (s *State) registerBlob(sender Address, op *RegisterBlobOp) error {
	if blob.EncodingType(op.EncodingType) != blob.RS2 {
		return fmt.Errorf("%w: encoding type %d", ErrInvalidTx, op.EncodingType)
	}
	if got := blob.DeriveID(blob.RS2, op.Size, merkle.Node(op.RootHash)); got != op.BlobID {
		return fmt.Errorf("%w: derived %s, given %s", ErrBlobIDMismatch, got, op.BlobID)
	}
	if _, bad := s.d.Invalid[op.BlobID]; bad {
		return fmt.Errorf("%w: %s", ErrInvalidBlob, op.BlobID)
	}
	enc, err := s.EncodedLength(op.Size)
	if err != nil {
		return err
	}
	c, err := s.committee()
	if err != nil {
		return err
	}
	writeFee, err := mul3(c.WritePrice, units(enc), 1)
	if err != nil {
		return err
	}
	var st *Storage
	if op.StorageID == (ObjectID{}) {
		if op.EpochsAhead == 0 || op.EpochsAhead > s.d.Params.MaxEpochsAhead {
			return fmt.Errorf("%w: %d epochs ahead (1..%d)", ErrEpochsAhead, op.EpochsAhead, s.d.Params.MaxEpochsAhead)
		}
		cost, err := s.checkReserve(enc, s.d.Epoch, s.d.Epoch+op.EpochsAhead)
		if err != nil {
			return err
		}
		if cost+writeFee < cost {
			return ErrOverflow
		}
		if acc := s.d.Accounts[sender]; acc == nil || acc.Balance < cost+writeFee {
			return fmt.Errorf("%w: need %d for storage and writing", ErrInsufficientBalance, cost+writeFee)
		}
		if st, err = s.reserve(sender, enc, op.EpochsAhead); err != nil {
			return err
		}
	} else {
		if op.EpochsAhead != 0 {
			return fmt.Errorf("%w: epochs ahead given with a storage resource", ErrInvalidTx)
		}
		if st, err = s.ownedStorage(sender, op.StorageID); err != nil {
			return err
		}
		if st.Size < enc {
			return fmt.Errorf("%w: %d bytes, encoded length %d", ErrStorageTooSmall, st.Size, enc)
		}
		if st.Start > s.d.Epoch || s.d.Epoch >= st.End {
			return fmt.Errorf("%w: [%d, %d) at epoch %d", ErrStorageEpochs, st.Start, st.End, s.d.Epoch)
		}
		if acc := s.d.Accounts[sender]; acc == nil || acc.Balance < writeFee {
			return fmt.Errorf("%w: write fee %d", ErrInsufficientBalance, writeFee)
		}
	}
	if err := s.debit(sender, writeFee); err != nil {
		return err // unreachable: checked above
	}
	s.touchEpoch(tableRewards, s.d.Epoch)
	s.d.Rewards[s.d.Epoch] += writeFee
	s.touchID(tableStorage, st.ID)
	delete(s.d.Storage, st.ID)
	id := s.newObjectID()
	s.touchID(tableBlob, id)
	b := &Blob{ID: id, Owner: sender, BlobID: op.BlobID, Size: op.Size, EncodingType: op.EncodingType,
		RootHash: op.RootHash, RegisteredEpoch: s.d.Epoch, Deletable: op.Deletable, Storage: *st}
	s.d.Blobs[id] = b
	s.index(b.BlobID, id)
	s.emit(Event{Type: EventBlobRegistered, BlobID: b.BlobID, ObjectID: id, Owner: sender, Size: b.Size,
		EncodingType: b.EncodingType, EndEpoch: st.End, Deletable: b.Deletable, Amount: writeFee})
	return nil
}

func (s *State) verifyCert(cert *protocol.Certificate, t protocol.Threshold) error {
	c, err := s.committee()
	if err != nil {
		return err
	}
	if err := cert.Verify(c.ProtocolMembers(), c.NShards, t); err != nil {
		return fmt.Errorf("%w: %w", ErrCertificate, err)
	}
	return nil
}

func (s *State) certifyBlob(op *CertifyBlobOp) error {
	b := s.d.Blobs[op.BlobObjectID]
	if b == nil {
		return fmt.Errorf("%w: blob %s", ErrNotFound, op.BlobObjectID)
	}
	if b.Certified {
		return fmt.Errorf("%w: in epoch %d", ErrAlreadyCertified, b.CertifiedEpoch)
	}
	s.touchID(tableBlob, b.ID)
	if s.d.Epoch >= b.Storage.End {
		return fmt.Errorf("blob %w at epoch %d", ErrExpired, b.Storage.End)
	}
	if _, bad := s.d.Invalid[b.BlobID]; bad {
		return fmt.Errorf("%w: %s", ErrInvalidBlob, b.BlobID)
	}
	msg, err := protocol.DecodeStorageConfirmation(op.Certificate.Message)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrWrongMessage, err)
	}
	if msg.Epoch != s.d.Epoch {
		return fmt.Errorf("%w: %d, current %d", ErrWrongEpoch, msg.Epoch, s.d.Epoch)
	}
	want := protocol.Permanent
	if b.Deletable {
		want = protocol.Deletable(b.ID)
	}
	if msg.BlobID != b.BlobID || msg.Persistence != want {
		return fmt.Errorf("%w: confirms %s (deletable %v), blob is %s (deletable %v)", ErrWrongMessage, msg.BlobID, msg.Persistence.Deletable, b.BlobID, b.Deletable)
	}
	if err := s.verifyCert(&op.Certificate, protocol.Quorum); err != nil {
		return err
	}
	b.Certified, b.CertifiedEpoch = true, s.d.Epoch
	s.emit(Event{Type: EventBlobCertified, BlobID: b.BlobID, ObjectID: b.ID, Owner: b.Owner, EndEpoch: b.Storage.End, Deletable: b.Deletable})
	return nil
}

func (s *State) invalidateBlob(op *InvalidateBlobOp) error {
	msg, err := protocol.DecodeInvalidBlobID(op.Certificate.Message)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrWrongMessage, err)
	}
	if msg.Epoch != s.d.Epoch {
		return fmt.Errorf("%w: %d, current %d", ErrWrongEpoch, msg.Epoch, s.d.Epoch)
	}
	if err := s.verifyCert(&op.Certificate, protocol.Validity); err != nil {
		return err
	}
	if _, done := s.d.Invalid[msg.BlobID]; !done {
		s.touchID(tableInvalid, msg.BlobID)
		s.d.Invalid[msg.BlobID] = s.d.Epoch
	}
	s.emit(Event{Type: EventInvalidBlobID, BlobID: msg.BlobID})
	return nil
}

func (s *State) ownedBlob(sender Address, id ObjectID) (*Blob, error) {
	b := s.d.Blobs[id]
	if b == nil {
		return nil, fmt.Errorf("%w: blob %s", ErrNotFound, id)
	}
	if b.Owner != sender {
		return nil, fmt.Errorf("%w: blob %s", ErrNotOwner, id)
	}
	s.touchID(tableBlob, id) // the caller may change or delete it
	return b, nil
}

func (s *State) extendBlob(sender Address, op *ExtendBlobOp) error {
	b, err := s.sharedBlob(op.BlobObjectID)
	if errors.Is(err, ErrNotShared) {
		b, err = s.ownedBlob(sender, op.BlobObjectID)
	}
	if err != nil {
		return err
	}
	if s.d.Epoch >= b.Storage.End {
		return fmt.Errorf("blob %w at epoch %d", ErrExpired, b.Storage.End)
	}
	if !b.Certified {
		return ErrNotCertified
	}
	if op.Epochs == 0 {
		return fmt.Errorf("%w: zero epochs", ErrInvalidTx)
	}
	start, end := b.Storage.End, b.Storage.End+op.Epochs
	if end < start {
		return ErrOverflow
	}
	cost, err := s.checkReserve(b.Storage.Size, start, end)
	if err != nil {
		return err
	}
	if b.Shared {
		// Anyone extends a shared blob; its funds pay.
		if b.Funds < cost {
			return fmt.Errorf("%w: the shared blob's funds are %d, the extension costs %d", ErrInsufficientBalance, b.Funds, cost)
		}
		b.Funds -= cost
	} else if err := s.debit(sender, cost); err != nil {
		return err
	}
	s.commitReserve(b.Storage.Size, start, end)
	b.Storage.End = end
	s.emit(Event{Type: EventBlobExtended, BlobID: b.BlobID, ObjectID: b.ID, Owner: sender, EndEpoch: end, Deletable: b.Deletable, IsExtension: true, Amount: cost})
	return nil
}

// sharedBlob returns a shared blob object (marked as changed); ErrNotShared if the object is
// a blob that is not shared.
func (s *State) sharedBlob(id ObjectID) (*Blob, error) {
	b := s.d.Blobs[id]
	if b == nil {
		return nil, fmt.Errorf("%w: blob %s", ErrNotFound, id)
	}
	if !b.Shared {
		return nil, fmt.Errorf("%w: blob %s", ErrNotShared, id)
	}
	s.touchID(tableBlob, id)
	return b, nil
}

// shareBlob turns an owned, permanent, unexpired blob object into a shared one funded with
// op.Amount: its owner becomes the zero address (no key), so that it can no longer be deleted,
// transferred or relabelled, while anyone may fund and extend it.
func (s *State) shareBlob(sender Address, op *ShareBlobOp) error {
	b, err := s.ownedBlob(sender, op.BlobObjectID)
	if err != nil {
		return err
	}
	switch {
	case b.Deletable:
		return fmt.Errorf("%w: deletable blobs cannot be shared", ErrInvalidTx)
	case s.d.Epoch >= b.Storage.End:
		return fmt.Errorf("blob %w at epoch %d", ErrExpired, b.Storage.End)
	}
	if err := s.debit(sender, op.Amount); err != nil {
		return err
	}
	b.Shared, b.Funds, b.Owner, b.Storage.Owner = true, op.Amount, Address{}, Address{}
	s.emit(Event{Type: EventBlobShared, BlobID: b.BlobID, ObjectID: b.ID, Owner: sender, Amount: op.Amount})
	return nil
}

// fundSharedBlob adds to a shared blob's funds.
func (s *State) fundSharedBlob(sender Address, op *FundSharedBlobOp) error {
	b, err := s.sharedBlob(op.BlobObjectID)
	if err != nil {
		return err
	}
	if op.Amount == 0 {
		return fmt.Errorf("%w: zero amount", ErrInvalidTx)
	}
	if b.Funds+op.Amount < b.Funds {
		return ErrOverflow
	}
	if err := s.debit(sender, op.Amount); err != nil {
		return err
	}
	b.Funds += op.Amount
	s.emit(Event{Type: EventSharedBlobFunded, BlobID: b.BlobID, ObjectID: b.ID, Owner: sender, Amount: op.Amount})
	return nil
}

func (s *State) deleteBlob(sender Address, op *DeleteBlobOp) error {
	b, err := s.ownedBlob(sender, op.BlobObjectID)
	if err != nil {
		return err
	}
	if !b.Deletable {
		return ErrPermanentBlob
	}
	if s.d.Epoch >= b.Storage.End {
		return fmt.Errorf("blob %w at epoch %d", ErrExpired, b.Storage.End)
	}
	st := b.Storage
	st.Owner = sender
	s.touchID(tableStorage, st.ID)
	s.d.Storage[st.ID] = &st
	delete(s.d.Blobs, b.ID)
	s.unindex(b.BlobID, b.ID)
	s.emit(Event{Type: EventBlobDeleted, BlobID: b.BlobID, ObjectID: b.ID, Owner: sender, EndEpoch: st.End, WasCertified: b.Certified})
	return nil
}

func (s *State) setAttributes(sender Address, op *SetAttributesOp) error {
	b, err := s.ownedBlob(sender, op.BlobObjectID)
	if err != nil {
		return err
	}
	next := make(map[string]string, len(b.Attributes)+len(op.Set))
	for k, v := range b.Attributes {
		next[k] = v
	}
	for k, v := range op.Set {
		if k == "" || len(k) > MaxAttributeKeyLen || len(v) > MaxAttributeValLen {
			return fmt.Errorf("%w: attribute key 1..%d bytes, value up to %d", ErrInvalidTx, MaxAttributeKeyLen, MaxAttributeValLen)
		}
		next[k] = v
	}
	for _, k := range op.Remove {
		delete(next, k)
	}
	if len(next) > MaxAttributes {
		return fmt.Errorf("%w: %d attributes, limit %d", ErrInvalidTx, len(next), MaxAttributes)
	}
	if len(next) == 0 {
		next = nil
	}
	b.Attributes = next
	s.emit(Event{Type: EventBlobAttributes, BlobID: b.BlobID, ObjectID: b.ID, Owner: sender})
	return nil
}

func (s *State) transferObject(sender Address, op *TransferObjectOp) error {
	if b := s.d.Blobs[op.ObjectID]; b != nil {
		if b.Owner != sender {
			return fmt.Errorf("%w: blob %s", ErrNotOwner, op.ObjectID)
		}
		s.touchID(tableBlob, b.ID)
		b.Owner = op.To
		b.Storage.Owner = op.To
		s.emit(Event{Type: EventObjectTransferred, ObjectID: b.ID, BlobID: b.BlobID, Owner: sender, To: op.To})
		return nil
	}
	st, err := s.ownedStorage(sender, op.ObjectID)
	if err != nil {
		return err
	}
	st.Owner = op.To
	s.emit(Event{Type: EventObjectTransferred, ObjectID: st.ID, Owner: sender, To: op.To})
	return nil
}
