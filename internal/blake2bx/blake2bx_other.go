//go:build !amd64

package blake2bx

// bestLanes is 1: messages are hashed one by one with x/crypto.
const bestLanes = 1

func hashBlocks8(h *uint64, p **byte, n int, t, length, final uint64) {
	panic("blake2bx: no 8-lane kernel")
}

func hashBlocks4(h *uint64, p **byte, n int, t, length, final uint64) {
	panic("blake2bx: no 4-lane kernel")
}

func hashPairs8(dst, src *byte, groups int, prefix uint64) {
	panic("blake2bx: no 8-lane kernel")
}

func hashOne8(dst, src *byte, length uint64) {
	panic("blake2bx: no 8-lane kernel")
}

func hashBlocks16(h *uint64, p **byte, n int, t, length, final uint64) {
	panic("blake2bx: no 16-lane kernel")
}

func hashPairs16(dst, src *byte, groups int, prefix uint64) {
	panic("blake2bx: no 16-lane kernel")
}

func hashOne16(dst, src *byte, length uint64) {
	panic("blake2bx: no 16-lane kernel")
}
