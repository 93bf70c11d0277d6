//go:build !amd64

package rs16

func bestKernels(t *tables) kernels { return genericKernels(t) }
