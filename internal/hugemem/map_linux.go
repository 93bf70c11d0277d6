package hugemem

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Map maps size bytes of anonymous memory aligned on a huge page and asks for transparent
// huge pages. It returns the buffer and the whole mapping (for Unmap), or nil if mmap fails.
// The pages are faulted in as they are first written (with huge pages, 2 MiB at a time); see
// Populate.
func Map(size int) (buf, whole []byte) {
	// The buffer starts on a huge page and the mapping goes on to the end of its last one:
	// a huge page is used only where all of it lies in the mapping.
	whole, err := unix.Mmap(-1, 0, (size+hugePage-1)/hugePage*hugePage+hugePage, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return nil, nil
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(whole)))
	off := int((base+hugePage-1)&^(hugePage-1) - base)
	buf = whole[off : off+size : off+size]
	// Advice: without it the memory is the same, in small pages. It covers the huge pages
	// whole: advice on part of one splits the mapping there, and a piece shorter than a huge
	// page gets none.
	_ = unix.Madvise(whole[off:off+(size+hugePage-1)/hugePage*hugePage], unix.MADV_HUGEPAGE)
	return buf, whole
}

// Populate faults buf (from Map) in at once (MADV_POPULATE_WRITE, Linux 5.14; on older
// kernels the pages fault in as they are written).
func Populate(buf []byte) { _ = unix.Madvise(buf, unix.MADV_POPULATE_WRITE) }

// Unmap unmaps a mapping of Map.
func Unmap(whole []byte) { _ = unix.Munmap(whole) }
