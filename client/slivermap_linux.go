package client

import (
	"os"
	"strconv"
	"strings"

	"github.com/floelabs/floe/internal/hugemem"
)

// mapSlivers maps size bytes of anonymous memory with transparent huge pages
// (hugemem.Map) and populates it in one call (hugemem.Populate). It returns the buffer and
// the whole mapping, or nil if mmap fails.
func mapSlivers(size int) (buf, whole []byte) {
	buf, whole = hugemem.Map(size)
	if buf != nil {
		hugemem.Populate(buf)
	}
	return buf, whole
}

// unmapSlivers unmaps a mapping of mapSlivers.
func unmapSlivers(whole []byte) { hugemem.Unmap(whole) }

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
