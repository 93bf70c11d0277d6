//go:build unix

package cli

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestBlobIDPipe checks that blob-id reads a file that is not regular (a named pipe) whole.
func TestBlobIDPipe(t *testing.T) {
	data := []byte("walrus blob id v1 regression test")
	p := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			done <- err
			return
		}
		_, err = f.Write(data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		done <- err
	}()
	code, out, errs := run(t, "blob-id", "--n-shards", "10", p)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if code != 0 || !strings.HasPrefix(out, "RcU82Mwf-CFkv1LaI_2qcpANwpGUuG3TMwnVzZxD2kY ") {
		t.Fatalf("exit %d, %q (%s)", code, out, errs)
	}
}
