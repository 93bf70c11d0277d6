package redstuff

import (
	"bufio"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// vmFlags returns the VmFlags of the mapping of this process that contains addr.
func vmFlags(t *testing.T, addr uintptr) []string {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skipf("no /proc/self/smaps (%v): cannot see madvise flags", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	inside := false
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) > 0 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			lo, hi, _ := strings.Cut(fields[0], "-")
			l, err1 := strconv.ParseUint(lo, 16, 64)
			h, err2 := strconv.ParseUint(hi, 16, 64)
			inside = err1 == nil && err2 == nil && uint64(addr) >= l && uint64(addr) < h
			continue
		}
		if inside && strings.HasPrefix(line, "VmFlags:") {
			return fields[1:]
		}
	}
	t.Fatalf("no mapping contains %#x", addr)
	return nil
}

// TestAdviseHugePages checks that the whole huge pages of a big buffer are marked for
// transparent huge pages (VmFlags "hg"), that small and unaligned buffers are left alone, and
// that contents are kept.
func TestAdviseHugePages(t *testing.T) {
	if b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled"); err != nil || strings.Contains(string(b), "[never]") {
		t.Skipf("TRANSPARENT HUGE PAGES UNAVAILABLE on this kernel (%q, %v): adviseHugePages is a no-op here", b, err)
	}
	small := make([]byte, 100)
	small[0] = 7
	adviseHugePages(unsafe.Pointer(&small[0]), uintptr(len(small)))
	if small[0] != 7 {
		t.Fatal("contents changed")
	}
	buf := make([]byte, 3*hugePageSize)
	for i := range buf {
		buf[i] = byte(i)
	}
	adviseHugePages(unsafe.Pointer(&buf[1]), uintptr(len(buf)-1))
	for i := range buf {
		if buf[i] != byte(i) {
			t.Fatalf("byte %d changed", i)
		}
	}
	base := uintptr(unsafe.Pointer(&buf[0]))
	inner := (base + 1 + hugePageSize - 1) &^ (hugePageSize - 1)
	flags := vmFlags(t, inner)
	if !slices.Contains(flags, "hg") {
		t.Fatalf("VmFlags %v of the advised huge page lack hg", flags)
	}
}
