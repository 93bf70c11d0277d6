package byzantine

import (
	"math"
	"testing"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/redstuff"
)

func TestParseDropStored(t *testing.T) {
	for in, want := range map[string]float64{"drop-stored": 10, "drop-stored=10": 10, "drop-stored 2.5": 2.5, "drop-stored=100": 100} {
		m, err := Parse(in)
		if err != nil || m.DropPercent() != want {
			t.Fatalf("Parse(%q) = %q (%g%%), %v; want %g%%", in, m, m.DropPercent(), err, want)
		}
	}
	for _, in := range []string{"drop-stored=0", "drop-stored=101", "drop-stored=x", "drop-stored=-3", "drop-storedx"} {
		if m, err := Parse(in); err == nil {
			t.Fatalf("Parse(%q) = %q, want an error", in, m)
		}
	}
	if CorruptSlivers.DropPercent() != 0 || None.DropPercent() != 0 {
		t.Fatal("another mode drops slivers")
	}
}

// TestDropsChoosesTheShare: the fixed choice drops about P% of slivers, differs between nodes,
// and is the same every time for a node.
func TestDropsChoosesTheShare(t *testing.T) {
	var a, b crypto.BLSPublicKey
	a[0], b[0] = 1, 2
	const total = 40_000
	dropped, both := 0, 0
	for i := 0; i < total/2; i++ {
		var id blob.ID
		id[0], id[1], id[2] = byte(i), byte(i>>8), byte(i>>16)
		for _, ax := range []redstuff.Axis{redstuff.Primary, redstuff.Secondary} {
			da := Drops(a, 10, uint16(i%7), id, ax)
			if da != Drops(a, 10, uint16(i%7), id, ax) {
				t.Fatal("the choice is not fixed")
			}
			if da {
				dropped++
				if Drops(b, 10, uint16(i%7), id, ax) {
					both++
				}
			}
		}
	}
	if f := float64(dropped) / total; math.Abs(f-0.10) > 0.01 {
		t.Fatalf("dropped %.4f of the slivers, want 0.10", f)
	}
	if f := float64(both) / float64(dropped); f > 0.15 {
		t.Fatalf("another node drops %.2f of the same slivers", f)
	}
}
