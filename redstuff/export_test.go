package redstuff

// WithKernels makes the Encoder use the named rs16 kernel set (see rs16.KernelSets), so that
// tests check every implementation of the field arithmetic this CPU runs.
func WithKernels(name string) Option { return func(e *Encoder) { e.kernels = name } }
