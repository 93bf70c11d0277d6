package rs16

// bestKernels returns the AVX2 kernels when the CPU has them.
func bestKernels(t *tables) kernels { return genericKernels(t) }
