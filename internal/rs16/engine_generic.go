package rs16

// kernels are the element-wise field operations on work-layout bytes.
type kernels struct {
	mulAdd func(x, y []byte, logM uint16) // x ^= y * exp(logM)
	mul    func(x []byte, logM uint16)    // x *= exp(logM)
	fft    func(x, y []byte, logM uint16) // x ^= y * exp(logM); y ^= x
	ifft   func(x, y []byte, logM uint16) // y ^= x; x ^= y * exp(logM)
}

func genericKernels(t *tables) kernels {
	return kernels{
		mulAdd: t.mulAddGeneric,
		mul:    t.mulGeneric,
		fft: func(x, y []byte, logM uint16) {
			t.mulAddGeneric(x, y, logM)
			xorInto(y, x)
		},
		ifft: func(x, y []byte, logM uint16) {
			xorInto(y, x)
			t.mulAddGeneric(x, y, logM)
		},
	}
}

func newEngine() engine {
	t := fieldTables()
	return engine{t: t, k: bestKernels(t)}
}
