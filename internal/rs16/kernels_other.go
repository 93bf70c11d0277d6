//go:build !amd64

package rs16

func bestKernels(t *tables) kernels { return genericKernels(t) }

// allKernels returns every kernel set this CPU runs.
func allKernels(t *tables) []kernels { return []kernels{genericKernels(t)} }
