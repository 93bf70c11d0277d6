package rs16

// kernels are the element-wise field operations on work-layout bytes, for one instruction set.
// All slices have the same length, a multiple of 64.
type kernels struct {
	name   string
	mulAdd func(x, y []byte, logM uint16) // x ^= y * exp(logM)
	mul    func(x []byte, logM uint16)    // x *= exp(logM)
	// Radix-2 butterflies; logM is never modulus (the callers XOR instead).
	fft  func(x, y []byte, logM uint16) // x ^= y * exp(logM); y ^= x
	ifft func(x, y []byte, logM uint16) // y ^= x; x ^= y * exp(logM)
	// Radix-4 butterflies (two layers) on a, b, c, d = p[0:dist], p[dist:2dist], p[2dist:3dist],
	// p[3dist:4dist]. A log equal to modulus stands for the multiplier zero (the skipped
	// multiplication of a skew factor that is zero).
	//	fft4:  fft(a, c, log02); fft(b, d, log02); fft(a, b, log01); fft(c, d, log23)
	//	ifft4: ifft(a, b, log01); ifft(c, d, log23); ifft(a, c, log02); ifft(b, d, log02)
	fft4  func(p []byte, dist int, log01, log23, log02 uint16)
	ifft4 func(p []byte, dist int, log01, log23, log02 uint16)
}

func genericKernels(t *tables) kernels {
	fft := func(x, y []byte, logM uint16) {
		if logM != modulus {
			t.mulAddGeneric(x, y, logM)
		}
		xorInto(y, x)
	}
	ifft := func(x, y []byte, logM uint16) {
		xorInto(y, x)
		if logM != modulus {
			t.mulAddGeneric(x, y, logM)
		}
	}
	return kernels{
		name:   "generic",
		mulAdd: t.mulAddGeneric,
		mul:    t.mulGeneric,
		fft:    fft,
		ifft:   ifft,
		fft4: func(p []byte, dist int, log01, log23, log02 uint16) {
			a, b, c, d := quarters(p, dist)
			fft(a, c, log02)
			fft(b, d, log02)
			fft(a, b, log01)
			fft(c, d, log23)
		},
		ifft4: func(p []byte, dist int, log01, log23, log02 uint16) {
			a, b, c, d := quarters(p, dist)
			ifft(a, b, log01)
			ifft(c, d, log23)
			ifft(a, c, log02)
			ifft(b, d, log02)
		},
	}
}

func quarters(p []byte, dist int) (a, b, c, d []byte) {
	return p[:dist:dist], p[dist : 2*dist : 2*dist], p[2*dist : 3*dist : 3*dist], p[3*dist : 4*dist : 4*dist]
}
