package rs16

import "crypto/subtle"

// mulAddGeneric computes x ^= y * exp(logM) element-wise over work-layout bytes.
func (t *tables) mulAddGeneric(x, y []byte, logM uint16) {
	for b := 0; b+64 <= len(x) && b+64 <= len(y); b += 64 {
		xb := x[b : b+64 : b+64]
		yb := y[b : b+64 : b+64]
		for i := 0; i < 32; i++ {
			v := uint16(yb[i]) | uint16(yb[i+32])<<8
			if v == 0 {
				continue
			}
			p := t.exp[addMod(t.log[v], logM)]
			xb[i] ^= byte(p)
			xb[i+32] ^= byte(p >> 8)
		}
	}
}

// mulGeneric computes x = x * exp(logM) element-wise.
func (t *tables) mulGeneric(x []byte, logM uint16) {
	for b := 0; b+64 <= len(x); b += 64 {
		xb := x[b : b+64 : b+64]
		for i := 0; i < 32; i++ {
			v := uint16(xb[i]) | uint16(xb[i+32])<<8
			var p uint16
			if v != 0 {
				p = t.exp[addMod(t.log[v], logM)]
			}
			xb[i] = byte(p)
			xb[i+32] = byte(p >> 8)
		}
	}
}

// xorInto computes x ^= y.
func xorInto(x, y []byte) { subtle.XORBytes(x, x, y) }
