package client

import (
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugePage is the size of a transparent huge page on Linux (x86-64, arm64 with 4 KiB pages).
const hugePage = 2 << 20

// mapSlivers maps size bytes of anonymous memory, asks for transparent huge pages and
// populates it in one call (MADV_POPULATE_WRITE, Linux 5.14; on older kernels the pages fault
// in as the encoder writes them). It returns the buffer (aligned on a huge page) and the
// whole mapping, or nil if mmap fails.
func mapSlivers(size int) (buf, whole []byte) {
	whole, err := unix.Mmap(-1, 0, size+hugePage, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return nil, nil
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(whole)))
	off := int((base+hugePage-1)&^(hugePage-1) - base)
	buf = whole[off : off+size : off+size]
	// Both are advice: without them the memory is the same, only dearer to fault in.
	_ = unix.Madvise(buf, unix.MADV_HUGEPAGE)
	_ = unix.Madvise(buf, unix.MADV_POPULATE_WRITE)
	return buf, whole
}

// unmapSlivers unmaps a mapping of mapSlivers.
func unmapSlivers(whole []byte) { _ = unix.Munmap(whole) }

// memAvailable returns MemAvailable and MemTotal from /proc/meminfo, in bytes.
func memAvailable() (avail, total uint64, ok bool) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, 0, false
	}
	var seen int
	for line := range strings.Lines(string(b)) {
		var dst *uint64
		switch {
		case strings.HasPrefix(line, "MemAvailable:"):
			dst = &avail
		case strings.HasPrefix(line, "MemTotal:"):
			dst = &total
		default:
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 || f[2] != "kB" {
			return 0, 0, false
		}
		kb, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			return 0, 0, false
		}
		*dst = kb << 10
		seen++
	}
	return avail, total, seen == 2
}
