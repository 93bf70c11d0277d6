package blob_test

import (
	"fmt"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/merkle"
	"github.com/floelabs/floe/redstuff"
)

func ExampleParseID() {
	id, err := blob.ParseID("RcU82Mwf-CFkv1LaI_2qcpANwpGUuG3TMwnVzZxD2kY")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(id)
	fmt.Printf("first bytes: %x\n", id[:4])

	_, err = blob.ParseID("not-a-blob-id")
	fmt.Println(err)
	// Output:
	// RcU82Mwf-CFkv1LaI_2qcpANwpGUuG3TMwnVzZxD2kY
	// first bytes: 45c53cd8
	// blob: invalid blob ID: "not-a-blob-id" has 13 characters, want 43 (URL-safe base64 without padding)
}

func ExampleDeriveID() {
	// The blob ID commits to the encoding type, the length and the root over the pair hashes.
	hashes := []redstuff.PairHashes{{Primary: merkle.LeafHash([]byte("p")), Secondary: merkle.LeafHash([]byte("s"))}}
	id := blob.DeriveID(blob.RS2, 0, redstuff.RootHash(hashes))
	fmt.Println(id == blob.Metadata{EncodingType: blob.RS2, Hashes: hashes}.ID())
	// Output: true
}

func ExampleMetadataWithID_MarshalBCS() {
	p, err := redstuff.NewParams(4)
	if err != nil {
		fmt.Println(err)
		return
	}
	hashes := make([]redstuff.PairHashes, p.NShards)
	for i := range hashes {
		hashes[i].Primary = merkle.LeafHash([]byte{'p', byte(i)})
		hashes[i].Secondary = merkle.LeafHash([]byte{'s', byte(i)})
	}
	m := blob.MetadataWithID{Metadata: blob.Metadata{EncodingType: blob.RS2, UnencodedLength: 17, Hashes: hashes}}
	m.ID = m.Metadata.ID()

	b, err := m.MarshalBCS()
	if err != nil {
		fmt.Println(err)
		return
	}
	// 32 (ID) + 1 (V1) + 1 (RS2) + 8 (length) + 1 (count) + 4*66 (hashes)
	fmt.Println(len(b), "bytes")

	var back blob.MetadataWithID
	if err := back.UnmarshalBCS(b); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("verifies:", back.Verify(p) == nil, "same ID:", back.ID == m.ID)

	back.Metadata.UnencodedLength++
	fmt.Println(back.Verify(p) != nil)
	// Output:
	// 307 bytes
	// verifies: true same ID: true
	// true
}

func ExampleShardIndex() {
	id, _ := blob.ParseID("RcU82Mwf-CFkv1LaI_2qcpANwpGUuG3TMwnVzZxD2kY")
	const n = 10
	offset := blob.RotationOffset(id, n)
	fmt.Println("offset:", offset)
	for pair := range 3 {
		shard := blob.ShardIndex(id, n, pair)
		fmt.Printf("pair %d -> shard %d -> pair %d\n", pair, shard, blob.PairIndex(id, n, shard))
	}
	// Output:
	// offset: 8
	// pair 0 -> shard 8 -> pair 0
	// pair 1 -> shard 9 -> pair 1
	// pair 2 -> shard 0 -> pair 2
}

func ExampleEncodedLength() {
	l, err := blob.EncodedLength(17, 1000)
	fmt.Println(l, err)
	// Output: 66034000 <nil>
}

func ExampleMarshalSliverData() {
	s := redstuff.Sliver{Axis: redstuff.Primary, Index: 5, SymbolSize: 2, Data: []byte{1, 2, 3, 4}}
	b, err := blob.MarshalSliverData(s)
	fmt.Printf("%x %v\n", b, err)
	back, err := blob.UnmarshalSliverData(b, redstuff.Primary)
	fmt.Println(back.Index, back.SymbolSize, back.Data, err)
	// Output:
	// 040102030402000500 <nil>
	// 5 2 [1 2 3 4] <nil>
}

func ExampleParseSymbolID() {
	id, err := blob.ParseSymbolID("3-998")
	fmt.Println(id.Primary, id.Secondary, err)
	fmt.Printf("%x\n", id.AppendBCS(nil))
	// Output:
	// 3 998 <nil>
	// 0300e603
}
