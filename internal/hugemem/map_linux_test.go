package hugemem

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"unsafe"
)

// TestMapHugePages: Map's buffer starts on a huge page and, where the system gives huge pages
// to memory that asks for them (transparent_hugepage "madvise" or "always"), a buffer shorter
// than a huge page is backed by one once written.
func TestMapHugePages(t *testing.T) {
	for _, size := range []int{1 << 20, 3<<20 + 4096} {
		buf, whole := Map(size)
		if buf == nil {
			t.Fatal("Map failed")
		}
		if len(buf) != size || uintptr(unsafe.Pointer(&buf[0]))%hugePage != 0 {
			t.Fatalf("Map(%d): %d bytes at %p", size, len(buf), &buf[0])
		}
		for i := range buf {
			buf[i] = byte(i)
		}
		mode, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
		if err == nil && (bytes.Contains(mode, []byte("[madvise]")) || bytes.Contains(mode, []byte("[always]"))) {
			kb, err := anonHugeKB(uintptr(unsafe.Pointer(&buf[0])))
			if err != nil {
				t.Fatal(err)
			}
			if kb < 2048 {
				t.Errorf("Map(%d): %d kB of huge pages in the mapping, want at least 2048 (transparent_hugepage: %s)", size, kb, bytes.TrimSpace(mode))
			}
		} else {
			t.Logf("transparent huge pages not asked for here (%q, %v): only the buffer checked", mode, err)
		}
		Unmap(whole)
	}
}

// anonHugeKB returns AnonHugePages of the mapping holding addr, from /proc/self/smaps.
func anonHugeKB(addr uintptr) (int, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	in := false
	for sc.Scan() {
		line := sc.Text()
		var lo, hi uintptr
		if n, _ := fmt.Sscanf(line, "%x-%x", &lo, &hi); n == 2 && strings.Contains(line, " ") && !strings.HasSuffix(strings.Fields(line)[0], ":") {
			in = addr >= lo && addr < hi
			continue
		}
		if in && strings.HasPrefix(line, "AnonHugePages:") {
			var kb int
			if _, err := fmt.Sscanf(line, "AnonHugePages: %d kB", &kb); err != nil {
				return 0, err
			}
			return kb, nil
		}
	}
	return 0, fmt.Errorf("no mapping holds %#x: %v", addr, sc.Err())
}
