package blob

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/floelabs/floe/internal/merkle"
	"github.com/floelabs/floe/redstuff"
)

// fill returns a node whose 32 bytes are all b.
func fill(b byte) merkle.Node {
	var n merkle.Node
	for i := range n {
		n[i] = b
	}
	return n
}

// unhex decodes hex written with optional spaces and line breaks.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad hex in test: %v", err)
	}
	return b
}

// rep returns hex for the byte b repeated n times.
func rep(b byte, n int) string {
	return strings.Repeat(hex.EncodeToString([]byte{b}), n)
}

// testHashes returns n pair hashes with distinct non-empty digests.
func testHashes(n int) []redstuff.PairHashes {
	h := make([]redstuff.PairHashes, n)
	for i := range h {
		h[i].Primary = merkle.LeafHash([]byte{byte(i), byte(i >> 8), 'p'})
		h[i].Secondary = merkle.LeafHash([]byte{byte(i), byte(i >> 8), 's'})
	}
	return h
}

// testProof returns a short proof with both node kinds.
func testProof() merkle.Proof {
	return merkle.Proof{fill(0x55), merkle.Empty, fill(0x66)}
}

// testSymbol returns a recovery symbol of the given target with a proof.
func testSymbol(target redstuff.Axis, targetIndex int) redstuff.RecoverySymbol {
	return redstuff.RecoverySymbol{Target: target, SourceIndex: 2, TargetIndex: targetIndex, Data: []byte{9, 8}, Proof: testProof()}
}
