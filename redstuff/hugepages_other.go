//go:build !linux

package redstuff

import "unsafe"

// adviseHugePages does nothing where transparent huge pages are not asked for by madvise.
func adviseHugePages(p unsafe.Pointer, size uintptr) {}
