package protocol

import (
	"fmt"

	"github.com/floelabs/floe/internal/crypto"
)

// Certificate is an aggregate signature of one message by the committee members whose bits are
// set in Signers (byte i/8, bit i%8, LSB first, over the committee's member order).
type Certificate struct {
	Signers   []byte              `json:"signers"`
	Message   []byte              `json:"message"`
	Signature crypto.BLSSignature `json:"signature"`
}

// Member is one committee member as a certificate sees it: its key and its weight in shards.
type Member struct {
	PublicKey crypto.BLSPublicKey
	Weight    int
}

// Threshold selects the weight a certificate needs.
type Threshold int

// The two thresholds of spec §1.
const (
	// Quorum is 3w >= 2n+1 (blob certification).
	Quorum Threshold = iota
	// Validity is 3w >= n+1: at least one correct node (invalid-blob certificates).
	Validity
)

// Reached reports whether weight w of n shards meets t.
func (t Threshold) Reached(w, n int) bool {
	if t == Quorum {
		return 3*w >= 2*n+1
	}
	return 3*w >= n+1
}

// String names the threshold.
func (t Threshold) String() string {
	if t == Quorum {
		return "quorum"
	}
	return "validity"
}

// Bitmap returns the LSB-first bitmap with the given member indices set, ceil(members/8) long.
func Bitmap(members int, signers []int) ([]byte, error) {
	b := make([]byte, (members+7)/8)
	for _, i := range signers {
		if i < 0 || i >= members {
			return nil, fmt.Errorf("%w: signer %d of %d members", ErrBitmap, i, members)
		}
		b[i/8] |= 1 << (i % 8)
	}
	return b, nil
}

// SignerIndices decodes a bitmap against a committee of the given size. A shorter bitmap reads
// as zero-padded; a set bit at or beyond members, or a bitmap longer than ceil(members/8), is an
// error.
func SignerIndices(bitmap []byte, members int) ([]int, error) {
	if len(bitmap) > (members+7)/8 {
		return nil, fmt.Errorf("%w: %d bytes for %d members", ErrBitmap, len(bitmap), members)
	}
	var out []int
	for i, by := range bitmap {
		for bit := 0; bit < 8; bit++ {
			if by&(1<<bit) == 0 {
				continue
			}
			idx := i*8 + bit
			if idx >= members {
				return nil, fmt.Errorf("%w: bit %d set beyond %d members", ErrBitmap, idx, members)
			}
			out = append(out, idx)
		}
	}
	return out, nil
}

// Verify checks the certificate against members (in committee order) out of nShards: the
// bitmap is valid, the signers' weight meets t, and the aggregate signature verifies over
// Message under the signers' aggregate key. It does not interpret Message.
func (c Certificate) Verify(members []Member, nShards int, t Threshold) error {
	idx, err := SignerIndices(c.Signers, len(members))
	if err != nil {
		return err
	}
	w := 0
	pks := make([]crypto.BLSPublicKey, 0, len(idx))
	for _, i := range idx {
		w += members[i].Weight
		pks = append(pks, members[i].PublicKey)
	}
	if !t.Reached(w, nShards) {
		return fmt.Errorf("%w: %d of %d shards, %s needed", ErrInsufficientWeight, w, nShards, t)
	}
	if err := crypto.VerifyAggregate(pks, c.Message, c.Signature); err != nil {
		return fmt.Errorf("%w: %w", ErrBadCertificate, err)
	}
	return nil
}
