package quilt_test

import (
	"fmt"

	"github.com/floelabs/floe/quilt"
	"github.com/floelabs/floe/redstuff"
)

func ExampleEncode() {
	q, err := quilt.Encode(10, []quilt.Patch{
		{Identifier: "index.html", Tags: map[string]string{"content-type": "text/html"}, Data: []byte("<h1>hi</h1>")},
		{Identifier: "app.js", Data: []byte("console.log('hi')")},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("quilt blob: %d bytes, symbol size %d, index in %d column(s)\n", len(q.Data), q.Layout.SymbolSize, q.Index.Columns)
	for _, e := range q.Index.Patches {
		fmt.Printf("%s: secondary slivers %v\n", e.Identifier, e.SliverIndices())
	}

	// The quilt ID is the blob ID of q.Data; the patch IDs follow from it.
	enc, err := redstuff.New(10)
	if err != nil {
		fmt.Println(err)
		return
	}
	md, err := q.Metadata(enc)
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, id := range q.Index.PatchIDs(md.ID) {
		fmt.Println(q.Index.Patches[i].Identifier, id)
	}
	// Output:
	// quilt blob: 224 bytes, symbol size 8, index in 2 column(s)
	// app.js: secondary slivers [2]
	// index.html: secondary slivers [3 4]
	// app.js JTPC1Kbhliohd-ryUBp2pmm9VJ8eeNwdNSelpoaluAcBAgADAA
	// index.html JTPC1Kbhliohd-ryUBp2pmm9VJ8eeNwdNSelpoaluAcBAwAFAA
}

// ExampleDecodePatch reads one patch the way a reader does: the index from the first columns
// (secondary slivers), then only the columns of the patch.
func ExampleDecodePatch() {
	q, err := quilt.Encode(10, []quilt.Patch{
		{Identifier: "a.txt", Data: []byte("first file")},
		{Identifier: "b.txt", Data: []byte("second file")},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	// fetch stands for fetching (and verifying) secondary sliver c from the network.
	fetch := q.Column
	// The layout follows from the blob's metadata: n and the unencoded length.
	l, err := quilt.LayoutForBlob(10, uint64(len(q.Data)))
	if err != nil {
		fmt.Println(err)
		return
	}
	column0 := fetch(0)
	k, err := quilt.IndexColumns(l, column0)
	if err != nil {
		fmt.Println(err)
		return
	}
	cols := [][]byte{column0}
	for c := 1; c < k; c++ {
		cols = append(cols, fetch(c))
	}
	ix, err := quilt.DecodeIndex(l, cols)
	if err != nil {
		fmt.Println(err)
		return
	}
	e, _ := ix.Lookup("b.txt")
	var patchCols [][]byte
	for _, c := range e.SliverIndices() {
		patchCols = append(patchCols, fetch(c))
	}
	p, err := quilt.DecodePatch(l, patchCols)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s: %q from columns %v\n", p.Identifier, p.Data, e.SliverIndices())
	// Output:
	// b.txt: "second file" from columns [4 5]
}

func ExampleParsePatchID() {
	p, err := quilt.ParsePatchID("JTPC1Kbhliohd-ryUBp2pmm9VJ8eeNwdNSelpoaluAcBAwAFAA")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("quilt", p.Quilt)
	fmt.Println("columns", p.Patch.SliverIndices())
	// Output:
	// quilt JTPC1Kbhliohd-ryUBp2pmm9VJ8eeNwdNSelpoaluAc
	// columns [3 4]
}
