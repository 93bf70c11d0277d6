package redstuff_test

import (
	"bytes"
	"fmt"

	"github.com/floelabs/floe/redstuff"
)

func ExampleEncoder_Encode() {
	enc, err := redstuff.New(10) // K_p = 4, K_s = 7
	if err != nil {
		panic(err)
	}
	e, err := enc.Encode([]byte("walrus blob id v1 regression test"))
	if err != nil {
		panic(err)
	}
	primary, secondary := e.Pair(0)
	fmt.Println("symbol size:", e.SymbolSize)
	fmt.Println("pair 0:", primary.Axis, primary.Index, len(primary.Data), "bytes;", secondary.Axis, secondary.Index, len(secondary.Data), "bytes")
	// Output:
	// symbol size: 2
	// pair 0: primary 0 14 bytes; secondary 9 8 bytes
}

func ExampleEncoder_Decode() {
	enc, _ := redstuff.New(10)
	blob := bytes.Repeat([]byte("floe "), 100)
	e, _ := enc.Encode(blob)
	// Any K_p = 4 primary slivers are enough, here the last four.
	var got []redstuff.Sliver
	for i := 6; i < 10; i++ {
		got = append(got, redstuff.Sliver{Axis: redstuff.Primary, Index: i, SymbolSize: e.SymbolSize, Data: e.Primary[i]})
	}
	out, err := enc.Decode(uint64(len(blob)), got, e.Hashes)
	fmt.Println(bytes.Equal(out, blob), err)
	// Output: true <nil>
}

func ExampleEncoder_RecoverSliver() {
	enc, _ := redstuff.New(10)
	e, _ := enc.Encode(bytes.Repeat([]byte{7, 1, 3}, 300))
	// Rebuild primary sliver 3 from one symbol of each of K_s = 7 secondary slivers.
	var symbols []redstuff.RecoverySymbol
	for j := 0; j < 7; j++ {
		src := redstuff.Sliver{Axis: redstuff.Secondary, Index: j, SymbolSize: e.SymbolSize, Data: e.Secondary[j]}
		rs, _ := enc.RecoverySymbols(src, []int{3})
		symbols = append(symbols, rs...)
	}
	sl, proof, err := enc.RecoverSliver(redstuff.Primary, 3, e.SymbolSize, symbols, e.Hashes)
	fmt.Println(bytes.Equal(sl.Data, e.Primary[3]), proof == nil, err)
	// Output: true true <nil>
}
