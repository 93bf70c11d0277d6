// Package rs16 is a systematic Reed-Solomon code over GF(2^16) that produces exactly the
// symbols of reed-solomon-simd 3.1.0 (the Leopard-RS construction: Cantor-basis field tables,
// additive FFT with skew factors, and the high-rate and low-rate codes chosen by its
// DefaultRate rule).
//
// Shards handled by this package are in "work layout": a whole number of 64-byte blocks, each
// holding the low bytes of 32 field elements followed by their high bytes. Symbols of other
// sizes are converted with ToWork and FromWork, which reproduce reed-solomon-simd's layout of
// a symbol's tail. Every operation is element-wise across shards, so any number of symbols
// laid out the same way can be processed as one long shard.
package rs16

import "sync"

const (
	order   = 1 << 16 // field size
	modulus = order - 1
	poly    = 0x1002D // x^16 + x^5 + x^3 + x^2 + 1
)

// cantorBasis are Leopard's Cantor basis constants for GF(2^16).
var cantorBasis = [16]uint16{
	0x0001, 0xACCA, 0x3C0E, 0x163E, 0xC582, 0xED2E, 0x914C, 0x4012,
	0x6C98, 0x10D8, 0x6A72, 0xB900, 0xFDB8, 0xFB34, 0xFF38, 0x991E,
}

// tables are the field's precomputed, immutable lookup tables.
type tables struct {
	exp      [order]uint16
	log      [order]uint16
	skew     [modulus]uint16
	logWalsh [order]uint16
	// logSum is the sum of the log table (log[0] taken as 0) mod 65535.
	logSum uint16
}

// fieldTables returns the tables, built once on first use. They are read-only afterwards.
var fieldTables = sync.OnceValue(buildTables)

func addMod(x, y uint16) uint16 {
	sum := uint32(x) + uint32(y)
	return uint16(sum + sum>>16)
}

func subMod(x, y uint16) uint16 {
	dif := uint32(x) - uint32(y)
	return uint16(dif + dif>>16)
}

// mulLog multiplies x by the element whose log is logM.
func (t *tables) mulLog(x, logM uint16) uint16 {
	if x == 0 {
		return 0
	}
	return t.exp[addMod(t.log[x], logM)]
}

func buildTables() *tables {
	t := new(tables)
	// LFSR exp/log tables.
	state := 1
	for i := 0; i < modulus; i++ {
		t.exp[state] = uint16(i)
		state <<= 1
		if state >= order {
			state ^= poly
		}
	}
	t.exp[0] = modulus
	// Convert to the Cantor basis.
	t.log[0] = 0
	for i := 0; i < 16; i++ {
		width := 1 << i
		for j := 0; j < width; j++ {
			t.log[j+width] = t.log[j] ^ cantorBasis[i]
		}
	}
	for i := 0; i < order; i++ {
		t.log[i] = t.exp[t.log[i]]
	}
	for i := 0; i < order; i++ {
		t.exp[t.log[i]] = uint16(i)
	}
	t.exp[modulus] = t.exp[0]

	// Skew factors.
	var temp [15]uint16
	for i := 1; i < 16; i++ {
		temp[i-1] = 1 << i
	}
	for m := 0; m < 15; m++ {
		step := 1 << (m + 1)
		t.skew[(1<<m)-1] = 0
		for i := m; i < 15; i++ {
			s := 1 << (i + 1)
			for j := (1 << m) - 1; j < s; j += step {
				t.skew[j+s] = t.skew[j] ^ temp[i]
			}
		}
		temp[m] = modulus - t.log[t.mulLog(temp[m], t.log[temp[m]^1])]
		for i := m + 1; i < 15; i++ {
			sum := addMod(t.log[temp[i]^1], temp[m])
			temp[i] = t.mulLog(temp[i], sum)
		}
	}
	for i := range t.skew {
		t.skew[i] = t.log[t.skew[i]]
	}

	// Walsh transform of the log table, for error locators.
	t.logWalsh = t.log
	t.logWalsh[0] = 0
	var sum uint64
	for _, l := range t.logWalsh {
		sum += uint64(l)
	}
	t.logSum = uint16(sum % modulus)
	fwht(&t.logWalsh, order)
	return t
}

// fwht is the fast Walsh-Hadamard transform over the first mTruncated (non-zero) entries.
func fwht(data *[order]uint16, mTruncated int) {
	dist := 1
	for dist4 := 4; dist4 <= order; dist4 <<= 2 {
		for r := 0; r < mTruncated; r += dist4 {
			for off := r; off < r+dist; off++ {
				i0, i1, i2, i3 := off, off+dist, off+2*dist, off+3*dist
				s0, d0 := addMod(data[i0], data[i1]), subMod(data[i0], data[i1])
				s1, d1 := addMod(data[i2], data[i3]), subMod(data[i2], data[i3])
				data[i0] = addMod(s0, s1)
				data[i1] = addMod(d0, d1)
				data[i2] = subMod(s0, s1)
				data[i3] = subMod(d0, d1)
			}
		}
		dist = dist4
	}
}

// locator turns an erasure indicator (1 = erased) into the logs of the error locator
// polynomial's values at the first end positions (those a codeword of end positions uses);
// the indicator's entries from end on are all 0 (tail false) or all 1 (tail true), and the
// returned array's entries from end on are undefined.
//
// The logs are the XOR convolution, mod 65535, of the indicator with the log table: the
// value at i is the sum of log[i^j] over the erased j. evalPoly computes it with two Walsh
// transforms of 2^16 entries whatever the code's size; for a small code it is cheaper
// summed directly (end x its present or erased positions: a code of 100 shards decodes a
// small sliver in a few microseconds instead of about a millisecond, and a wiped node rebuilt
// its slivers at that bound).
func (t *tables) locator(erasures *[order]uint16, end int, tail bool) {
	marked := make([]int, 0, end) // positions below end erased (tail false) or present (tail true)
	for j := 0; j < end; j++ {
		if (erasures[j] != 0) != tail {
			marked = append(marked, j)
		}
	}
	if end*len(marked) <= directLocatorWork {
		t.locatorDirect(erasures, end, tail, marked)
		return
	}
	truncated := end
	if tail {
		truncated = order
		for i := end; i < order; i++ {
			erasures[i] = 1
		}
	}
	t.evalPoly(erasures, truncated)
}

// locatorDirect is locator summed directly over marked, the positions below end that are
// erased (tail false) or present (tail true).
func (t *tables) locatorDirect(erasures *[order]uint16, end int, tail bool, marked []int) {
	for i := 0; i < end; i++ {
		var sum uint64
		for _, j := range marked {
			if x := i ^ j; x != 0 { // log[0] counts as 0
				sum += uint64(t.log[x])
			}
		}
		v := uint16(sum % modulus)
		if tail { // the sum over every j, less the present ones
			v = subMod(t.logSum, v)
		}
		erasures[i] = v
	}
}

// directLocatorWork bounds the work (positions x marked positions) of a directly summed
// locator (about 2 ns each here); past it the two Walsh transforms (about 1.5 ms) are cheaper.
const directLocatorWork = 1 << 19

// evalPoly turns an erasure indicator (1 = erased) into the logs of the error locator
// polynomial's values.
func (t *tables) evalPoly(erasures *[order]uint16, truncated int) {
	fwht(erasures, truncated)
	for i := range erasures {
		product := uint32(erasures[i]) * uint32(t.logWalsh[i])
		erasures[i] = addMod(uint16(product), uint16(product>>16))
	}
	fwht(erasures, order)
}
