package rs16

import (
	"sync"

	"golang.org/x/sys/cpu"
)

//go:noescape
func mulAddAVX2(x, y []byte, lut *[128]byte)

//go:noescape
func mulAVX2(x []byte, lut *[128]byte)

//go:noescape
func fftButterflyAVX2(x, y []byte, lut *[128]byte)

//go:noescape
func ifftButterflyAVX2(x, y []byte, lut *[128]byte)

// nibbleLUTs are, for every log of a multiplier, the eight 16-byte tables the SIMD kernels
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

var avx2LUTs = sync.OnceValue(func() *nibbleLUTs { return buildNibbleLUTs(fieldTables()) })

// bestKernels returns the AVX2 kernels when the CPU has them.
func bestKernels(t *tables) kernels {
	if !cpu.X86.HasAVX2 {
		return genericKernels(t)
	}
	return avx2Kernels()
}

func avx2Kernels() kernels {
	l := avx2LUTs()
	return kernels{
		mulAdd: func(x, y []byte, logM uint16) { mulAddAVX2(x, y[:len(x)], &l[logM]) },
		mul:    func(x []byte, logM uint16) { mulAVX2(x, &l[logM]) },
		fft:    func(x, y []byte, logM uint16) { fftButterflyAVX2(x, y[:len(x)], &l[logM]) },
		ifft:   func(x, y []byte, logM uint16) { ifftButterflyAVX2(x, y[:len(x)], &l[logM]) },
	}
}
