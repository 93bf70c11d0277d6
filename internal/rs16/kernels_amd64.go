package rs16

//go:generate go run gen_amd64.go

import (
	"sync"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// The assembly kernels (kernels_amd64.s, see gen_amd64.go). n and dist are byte counts, positive
// multiples of 64; m points at a multiplier's nibble tables (AVX2) or matrix (GFNI).

//go:noescape
func mulAddAVX2(x, y *byte, n int, m *byte)

//go:noescape
func mulAVX2(x *byte, n int, m *byte)

//go:noescape
func fftAVX2(x, y *byte, n int, m *byte)

//go:noescape
func ifftAVX2(x, y *byte, n int, m *byte)

//go:noescape
func fft4AVX2(p *byte, dist int, m01, m23, m02 *byte)

//go:noescape
func ifft4AVX2(p *byte, dist int, m01, m23, m02 *byte)

//go:noescape
func mulAddGFNI(x, y *byte, n int, m *byte)

//go:noescape
func mulGFNI(x *byte, n int, m *byte)

//go:noescape
func fftGFNI(x, y *byte, n int, m *byte)

//go:noescape
func ifftGFNI(x, y *byte, n int, m *byte)

//go:noescape
func fft4GFNI(p *byte, dist int, m01, m23, m02 *byte)

//go:noescape
func ifft4GFNI(p *byte, dist int, m01, m23, m02 *byte)

// nibbleLUTs are, for every log of a multiplier, the eight 16-byte tables the AVX2 kernels
// use: low bytes of x*m for each nibble position, then high bytes (8 MiB in all).
type nibbleLUTs [order][128]byte

func buildNibbleLUTs(t *tables) *nibbleLUTs {
	l := new(nibbleLUTs)
	for logM := 0; logM < order; logM++ {
		lut := &l[logM]
		for i := 0; i < 4; i++ {
			for x := 0; x < 16; x++ {
				p := t.mulLog(uint16(x<<(4*i)), uint16(logM))
				lut[16*i+x] = byte(p)
				lut[64+16*i+x] = byte(p >> 8)
			}
		}
	}
	return l
}

// gfMatrix is multiplication by a constant as four 8x8 bit matrices in VGF2P8AFFINEQB's
// format (byte 7-i of a matrix is the row giving output bit i): low bytes to low bytes, high to
// high, high to low, low to high.
type gfMatrix [4]uint64

// gfMatrices are the matrices of every log of a multiplier (2 MiB).
type gfMatrices [order]gfMatrix

func buildGFMatrices(t *tables) *gfMatrices {
	g := new(gfMatrices)
	for logM := 0; logM < order; logM++ {
		var col [16]uint16 // col[j] = 2^j * m: column j of the 16x16 matrix
		for j := range col {
			col[j] = t.mulLog(1<<j, uint16(logM))
		}
		// block returns the 8x8 matrix from input byte in (0 low, 1 high) to output byte out.
		block := func(in, out int) uint64 {
			var q uint64
			for i := 0; i < 8; i++ { // output bit
				var row uint64
				for j := 0; j < 8; j++ { // input bit
					row |= uint64(col[8*in+j]>>(8*out+i)&1) << j
				}
				q |= row << (8 * (7 - i))
			}
			return q
		}
		g[logM] = gfMatrix{block(0, 0), block(1, 1), block(1, 0), block(0, 1)}
	}
	return g
}

var (
	avx2LUTs   = sync.OnceValue(func() *nibbleLUTs { return buildNibbleLUTs(fieldTables()) })
	gfniTables = sync.OnceValue(func() *gfMatrices { return buildGFMatrices(fieldTables()) })
)

// hasGFNI512 reports whether the CPU runs the AVX-512 GFNI kernels.
func hasGFNI512() bool { return cpu.X86.HasAVX512F && cpu.X86.HasAVX512GFNI }

// bestKernels returns the fastest kernels this CPU runs.
func bestKernels(t *tables) kernels {
	switch {
	case hasGFNI512():
		return gfniKernels()
	case cpu.X86.HasAVX2:
		return avx2Kernels()
	}
	return genericKernels(t)
}

// allKernels returns every kernel set this CPU runs, the generic one first.
func allKernels(t *tables) []kernels {
	ks := []kernels{genericKernels(t)}
	if cpu.X86.HasAVX2 {
		ks = append(ks, avx2Kernels())
	}
	if hasGFNI512() {
		ks = append(ks, gfniKernels())
	}
	return ks
}

func avx2Kernels() kernels {
	l := avx2LUTs()
	zero := new([128]byte)
	tab := func(logM uint16) *byte { return &l[logM][0] }
	// pick is tab for the radix-4 kernels, where modulus stands for the multiplier zero.
	pick := func(logM uint16) *byte {
		if logM == modulus {
			return &zero[0]
		}
		return tab(logM)
	}
	return kernels{
		name: "avx2",
		mulAdd: func(x, y []byte, logM uint16) {
			y = y[:len(x)]
			if len(x) > 0 {
				mulAddAVX2(&x[0], &y[0], len(x), tab(logM))
			}
		},
		mul: func(x []byte, logM uint16) {
			if len(x) > 0 {
				mulAVX2(&x[0], len(x), tab(logM))
			}
		},
		fft: func(x, y []byte, logM uint16) {
			y = y[:len(x)]
			if len(x) > 0 {
				fftAVX2(&x[0], &y[0], len(x), tab(logM))
			}
		},
		ifft: func(x, y []byte, logM uint16) {
			y = y[:len(x)]
			if len(x) > 0 {
				ifftAVX2(&x[0], &y[0], len(x), tab(logM))
			}
		},
		fft4: func(p []byte, dist int, log01, log23, log02 uint16) {
			p = p[:4*dist]
			if dist > 0 {
				fft4AVX2(&p[0], dist, pick(log01), pick(log23), pick(log02))
			}
		},
		ifft4: func(p []byte, dist int, log01, log23, log02 uint16) {
			p = p[:4*dist]
			if dist > 0 {
				ifft4AVX2(&p[0], dist, pick(log01), pick(log23), pick(log02))
			}
		},
	}
}

func gfniKernels() kernels {
	g := gfniTables()
	zero := new(gfMatrix)
	tab := func(logM uint16) *byte { return (*byte)(unsafe.Pointer(&g[logM])) }
	pick := func(logM uint16) *byte {
		if logM == modulus {
			return (*byte)(unsafe.Pointer(zero))
		}
		return tab(logM)
	}
	return kernels{
		name: "gfni512",
		mulAdd: func(x, y []byte, logM uint16) {
			y = y[:len(x)]
			if len(x) > 0 {
				mulAddGFNI(&x[0], &y[0], len(x), tab(logM))
			}
		},
		mul: func(x []byte, logM uint16) {
			if len(x) > 0 {
				mulGFNI(&x[0], len(x), tab(logM))
			}
		},
		fft: func(x, y []byte, logM uint16) {
			y = y[:len(x)]
			if len(x) > 0 {
				fftGFNI(&x[0], &y[0], len(x), tab(logM))
			}
		},
		ifft: func(x, y []byte, logM uint16) {
			y = y[:len(x)]
			if len(x) > 0 {
				ifftGFNI(&x[0], &y[0], len(x), tab(logM))
			}
		},
		fft4: func(p []byte, dist int, log01, log23, log02 uint16) {
			p = p[:4*dist]
			if dist > 0 {
				fft4GFNI(&p[0], dist, pick(log01), pick(log23), pick(log02))
			}
		},
		ifft4: func(p []byte, dist int, log01, log23, log02 uint16) {
			p = p[:4*dist]
			if dist > 0 {
				ifft4GFNI(&p[0], dist, pick(log01), pick(log23), pick(log02))
			}
		},
	}
}
