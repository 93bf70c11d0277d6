package controlplane

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"sort"

	"golang.org/x/crypto/blake2b"

	"github.com/floelabs/floe/blob"
)

// The state commitment (the app hash) is incremental: a block costs what it changed, not what
// the state holds.
//
// Every record is a leaf: its key is a table byte and a 32-byte ID (an object ID, an address,
// a blob ID, or an epoch as a little-endian u32), its value the record's canonical JSON (the
// state machine's own field names, map keys sorted), and its leaf hash
//
//	Blake2b-256(0x00 || key (33 bytes) || value)
//
// A leaf belongs to one of 2^16 buckets, chosen by the first two bytes of Blake2b-256(key).
// A bucket's hash is Blake2b-256(0x01 || its leaf hashes in key order); the buckets are the
// leaves of a complete binary Merkle tree (node = Blake2b-256(0x02 || left || right)) whose
// root commits to every record. The scalars of the state (version, parameters, height, time,
// epoch, epoch start, event sequence number) are hashed as one JSON object, and the app hash
// is
//
//	Blake2b-256(0x03 || Blake2b-256(scalars) || root)
//
// Mutations mark the keys they touch; Hash recomputes those leaves, re-sorts their buckets and
// rehashes the buckets and their 16 ancestors. A block that changes k records costs
// O(k * (16 + leaves per bucket)) hashes, which stays near constant up to millions of records
// (15 leaves per bucket at a million).
const (
	bucketBits = 16
	nBuckets   = 1 << bucketBits
)

// Tables of the commitment.
const (
	tableAccount   byte = 'a'
	tableNode      byte = 'n'
	tableStake     byte = 's'
	tableStorage   byte = 'o'
	tableBlob      byte = 'b'
	tableCommittee byte = 'c'
	tableUsed      byte = 'u'
	tableRewards   byte = 'r'
	tableInvalid   byte = 'i'
	// Storage challenges (challenge.go).
	tableChallengeRound  byte = 'h'
	tableChallenge       byte = 'x'
	tableAccountability  byte = 'k'
	tableChallengeTotals byte = 'z'
	tableEpochSync       byte = 'e'
	tableValidator       byte = 'v'
)

type leafKey [33]byte

func key32(table byte, id [32]byte) leafKey {
	var k leafKey
	k[0] = table
	copy(k[1:], id[:])
	return k
}

func keyEpoch(table byte, e uint32) leafKey {
	var k leafKey
	k[0] = table
	binary.LittleEndian.PutUint32(k[1:], e)
	return k
}

type leaf struct {
	key  leafKey
	hash Hash
}

// commitment is the bucketed Merkle tree over the state's records.
type commitment struct {
	buckets [][]leaf // sorted by key
	// tree[1] is the root, tree[nBuckets+i] bucket i's hash.
	tree  []Hash
	dirty map[leafKey]struct{}
}

func bucketOf(k leafKey) int {
	h := blake2b.Sum256(k[:])
	return int(binary.BigEndian.Uint16(h[:2]))
}

func hashLeaf(k leafKey, value []byte) Hash {
	d, _ := blake2b.New256(nil)
	d.Write([]byte{0x00})
	d.Write(k[:])
	d.Write(value)
	var h Hash
	d.Sum(h[:0])
	return h
}

func hashBucket(ls []leaf) Hash {
	d, _ := blake2b.New256(nil)
	d.Write([]byte{0x01})
	for i := range ls {
		d.Write(ls[i].hash[:])
	}
	var h Hash
	d.Sum(h[:0])
	return h
}

func hashNode(l, r *Hash) Hash {
	var b [65]byte
	b[0] = 0x02
	copy(b[1:], l[:])
	copy(b[33:], r[:])
	return Hash(blake2b.Sum256(b[:]))
}

// touch marks a record as changed (inserted, modified or deleted) in the running block.
func (s *State) touch(k leafKey) { s.c.dirty[k] = struct{}{} }

func (s *State) touchID(table byte, id [32]byte) { s.touch(key32(table, id)) }

func (s *State) touchEpoch(table byte, e uint32) { s.touch(keyEpoch(table, e)) }

// recordValue returns the canonical encoding of the record under k, or nil if there is none.
func (s *State) recordValue(k leafKey) []byte {
	var id [32]byte
	copy(id[:], k[1:])
	e := binary.LittleEndian.Uint32(k[1:5])
	var v any
	switch k[0] {
	case tableAccount:
		if a := s.d.Accounts[Address(id)]; a != nil {
			v = a
		}
	case tableNode:
		if n := s.d.Nodes[ObjectID(id)]; n != nil {
			v = n
		}
	case tableStake:
		if st := s.d.Stakes[ObjectID(id)]; st != nil {
			v = st
		}
	case tableStorage:
		if st := s.d.Storage[ObjectID(id)]; st != nil {
			v = st
		}
	case tableBlob:
		if b := s.d.Blobs[ObjectID(id)]; b != nil {
			v = b
		}
	case tableCommittee:
		if c := s.d.Committees[e]; c != nil {
			v = c
		}
	case tableUsed:
		if u, ok := s.d.Used[e]; ok {
			v = u
		}
	case tableRewards:
		if r, ok := s.d.Rewards[e]; ok {
			v = r
		}
	case tableInvalid:
		if ie, ok := s.d.Invalid[blob.ID(id)]; ok {
			v = ie
		}
	case tableChallengeRound, tableChallenge, tableAccountability, tableChallengeTotals:
		v = s.challengeRecord(k)
	case tableEpochSync:
		if es := s.d.EpochSyncs[e]; es != nil {
			v = es
		}
	case tableValidator:
		if val := s.d.Validators[ValidatorKey(id)]; val != nil {
			v = val
		}
	default:
		panic(fmt.Sprintf("controlplane: unknown table %q", k[0]))
	}
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // unreachable: records hold only marshalable values
	}
	return b
}

// allKeys returns the key of every record.
func (s *State) allKeys() []leafKey {
	ks := make([]leafKey, 0, len(s.d.Accounts)+len(s.d.Nodes)+len(s.d.Stakes)+len(s.d.Storage)+len(s.d.Blobs)+
		len(s.d.Committees)+len(s.d.Used)+len(s.d.Rewards)+len(s.d.Invalid)+len(s.d.EpochSyncs)+len(s.d.Validators))
	for a := range s.d.Accounts {
		ks = append(ks, key32(tableAccount, a))
	}
	for id := range s.d.Nodes {
		ks = append(ks, key32(tableNode, id))
	}
	for id := range s.d.Stakes {
		ks = append(ks, key32(tableStake, id))
	}
	for id := range s.d.Storage {
		ks = append(ks, key32(tableStorage, id))
	}
	for id := range s.d.Blobs {
		ks = append(ks, key32(tableBlob, id))
	}
	for e := range s.d.Committees {
		ks = append(ks, keyEpoch(tableCommittee, e))
	}
	for e := range s.d.Used {
		ks = append(ks, keyEpoch(tableUsed, e))
	}
	for e := range s.d.Rewards {
		ks = append(ks, keyEpoch(tableRewards, e))
	}
	for id := range s.d.Invalid {
		ks = append(ks, key32(tableInvalid, id))
	}
	for e := range s.d.EpochSyncs {
		ks = append(ks, keyEpoch(tableEpochSync, e))
	}
	for k := range s.d.Validators {
		ks = append(ks, key32(tableValidator, k))
	}
	return s.appendChallengeKeys(ks)
}

// emptyTree is the hash of an empty subtree by height (0: an empty bucket): a constant table.
var emptyTree = func() (t [bucketBits + 1]Hash) {
	t[0] = hashBucket(nil)
	for i := 1; i <= bucketBits; i++ {
		t[i] = hashNode(&t[i-1], &t[i-1])
	}
	return t
}()

// rebuild computes the commitment of the whole state from scratch.
func (s *State) rebuild() {
	c := &commitment{buckets: make([][]leaf, nBuckets), tree: make([]Hash, 2*nBuckets), dirty: map[leafKey]struct{}{}}
	for _, k := range s.allKeys() {
		b := bucketOf(k)
		c.buckets[b] = append(c.buckets[b], leaf{key: k, hash: hashLeaf(k, s.recordValue(k))})
	}
	for i, ls := range c.buckets {
		if len(ls) == 0 {
			c.tree[nBuckets+i] = emptyTree[0]
			continue
		}
		sort.Slice(ls, func(x, y int) bool { return bytes.Compare(ls[x].key[:], ls[y].key[:]) < 0 })
		c.tree[nBuckets+i] = hashBucket(ls)
	}
	for level, width := 1, nBuckets/2; width >= 1; level, width = level+1, width/2 {
		for i := width; i < 2*width; i++ {
			l, r := &c.tree[2*i], &c.tree[2*i+1]
			if *l == emptyTree[level-1] && *r == emptyTree[level-1] {
				c.tree[i] = emptyTree[level]
			} else {
				c.tree[i] = hashNode(l, r)
			}
		}
	}
	s.c = c
	s.rebuildIndexes()
}

// commitDirty folds the records changed since the last call into the tree.
func (s *State) commitDirty() {
	c := s.c
	if len(c.dirty) == 0 {
		return
	}
	changed := map[int]struct{}{}
	for k := range c.dirty {
		s.reindex(k)
		b := bucketOf(k)
		ls := c.buckets[b]
		i, found := slices.BinarySearchFunc(ls, k, func(l leaf, k leafKey) int { return bytes.Compare(l.key[:], k[:]) })
		v := s.recordValue(k)
		switch {
		case v == nil && found:
			ls = slices.Delete(ls, i, i+1)
		case v == nil:
			continue
		case found:
			h := hashLeaf(k, v)
			if h == ls[i].hash {
				continue
			}
			ls[i].hash = h
		default:
			ls = slices.Insert(ls, i, leaf{key: k, hash: hashLeaf(k, v)})
		}
		c.buckets[b] = ls
		changed[b] = struct{}{}
	}
	clear(c.dirty)
	nodes := make([]int, 0, len(changed))
	for b := range changed {
		c.tree[nBuckets+b] = hashBucket(c.buckets[b])
		nodes = append(nodes, (nBuckets+b)/2)
	}
	for len(nodes) > 0 {
		slices.Sort(nodes)
		nodes = slices.Compact(nodes)
		next := nodes[:0]
		for _, n := range nodes {
			c.tree[n] = hashNode(&c.tree[2*n], &c.tree[2*n+1])
			if n > 1 {
				next = append(next, n/2)
			}
		}
		nodes = next
	}
}

// scalars are the state's fields outside the records.
type scalars struct {
	Version    uint32 `json:"version"`
	Params     Params `json:"params"`
	Height     uint64 `json:"height"`
	TimeMs     int64  `json:"time_ms"`
	Epoch      uint32 `json:"epoch"`
	EpochStart int64  `json:"epoch_start_ms"`
	EventSeq   uint64 `json:"event_seq"`
}

func (s *State) appHash() Hash {
	b, err := json.Marshal(scalars{Version: s.d.Version, Params: s.d.Params, Height: s.d.Height, TimeMs: s.d.TimeMs,
		Epoch: s.d.Epoch, EpochStart: s.d.EpochStart, EventSeq: s.d.EventSeq})
	if err != nil {
		panic(err) // unreachable
	}
	sh := blake2b.Sum256(b)
	var buf [65]byte
	buf[0] = 0x03
	copy(buf[1:], sh[:])
	copy(buf[33:], s.c.tree[1][:])
	return Hash(blake2b.Sum256(buf[:]))
}
