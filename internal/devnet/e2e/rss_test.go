package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

var (
	rssSize = flag.Int64("rss.size", 1<<30, "BenchmarkPeakRSS: the size of the blob stored and read")
	rssRead = flag.Bool("rss.read", true, "BenchmarkPeakRSS: also measure the degraded read (false: the store only, for sizes whose read copy would not fit on the disk)")
)

// BenchmarkPeakRSS measures the peak resident memory (getrusage's maxrss of the child
// process) of `floe store` of a -rss.size file (default 1 GiB) on the default devnet, and of
// `floe read` of it with 3 of the 10 nodes stopped, so that the systematic slivers they hold
// are missing and the read decodes (checked in the client's log); the bytes read must equal
// the file's. Metrics: store-peak-MiB and read-peak-MiB, and each as a multiple of the blob's
// size. A store of a blob larger than the client's SpillAbove (64 MiB) encodes into a
// temporary file of its slivers and a degraded read decodes through one, so the disk must
// hold about 11x the size (the file, the client's sliver file, the nodes' slivers, the read
// copy and the read's sliver file); -rss.read=false measures the store only (about 10x).
func BenchmarkPeakRSS(b *testing.B) {
	if testing.Short() {
		b.Skip("starts a devnet of child processes")
	}
	size := *rssSize
	dir := b.TempDir()
	n := startNet(b, filepath.Join(dir, "net"), 10, 1000, 0)
	info := n.Info()
	file := filepath.Join(dir, "blob.bin")
	writeRandomFile(b, file, size)
	round := uint64(0)
	var storeRSS, readRSS int64
	for b.Loop() {
		round++
		// A new blob each round: its first 8 bytes are the round.
		f, err := os.OpenFile(file, os.O_WRONLY, 0)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.WriteAt(binary.LittleEndian.AppendUint64(nil, round), 0); err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
		want := fileSHA256(b, file)

		out, _, sRSS := runMeasured(b, "store", "--config", info.ClientConfig, "--epochs", "1", "--force", "--json", file)
		storeRSS = max(storeRSS, sRSS)
		m := regexp.MustCompile(`"blobId":\s*"([A-Za-z0-9_-]+)"`).FindSubmatch(out)
		if m == nil {
			b.Fatalf("no blob ID in the store's output:\n%s", out)
		}
		id := string(m[1])

		if !*rssRead {
			b.Logf("round %d: %d MiB: store peak RSS %d MiB; load %s", round, size>>20, sRSS>>20, loadAvg())
			continue
		}
		for i := range 3 {
			if err := n.Node(i).Stop(10 * time.Second); err != nil {
				b.Fatal(err)
			}
		}
		got := filepath.Join(dir, "read.bin")
		_, logs, rRSS := runMeasured(b, "read", "-v", "--config", info.ClientConfig, "--out", got, id)
		readRSS = max(readRSS, rRSS)
		if !strings.Contains(string(logs), "decoding from any primary slivers") {
			b.Fatalf("the read did not decode (no systematic sliver missing?); its log:\n%s", logs)
		}
		if h := fileSHA256(b, got); h != want {
			b.Fatalf("the blob read back differs from the file stored")
		}
		if err := os.Remove(got); err != nil {
			b.Fatal(err)
		}
		for i := range 3 {
			if err := n.Node(i).Start(); err != nil {
				b.Fatal(err)
			}
		}
		b.Logf("round %d: %d MiB: store peak RSS %d MiB, degraded read peak RSS %d MiB; load %s", round, size>>20, sRSS>>20, rRSS>>20, loadAvg())
	}
	b.ReportMetric(float64(storeRSS)/(1<<20), "store-peak-MiB")
	b.ReportMetric(float64(storeRSS)/float64(size), "store-peak/size")
	if *rssRead {
		b.ReportMetric(float64(readRSS)/(1<<20), "read-peak-MiB")
		b.ReportMetric(float64(readRSS)/float64(size), "read-peak/size")
	}
}

// runMeasured runs floe with args and returns its standard output and error and its peak
// resident set size in bytes.
func runMeasured(b *testing.B, args ...string) (stdout, stderr []byte, maxRSS int64) {
	b.Helper()
	cmd := exec.Command(floeBin, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		b.Fatalf("floe %s: %v\n%s", strings.Join(args, " "), err, e.Bytes())
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		b.Fatal("no rusage for the child process")
	}
	return o.Bytes(), e.Bytes(), ru.Maxrss << 10 // Linux reports KiB
}

// writeRandomFile writes size pseudo-random bytes to path without holding them in memory.
func writeRandomFile(b *testing.B, path string, size int64) {
	b.Helper()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(uint64(size), 9))
	buf := make([]byte, 1<<20)
	for left := size; left > 0; {
		k := min(left, int64(len(buf)))
		for i := 0; i < int(k); i += 8 {
			binary.LittleEndian.PutUint64(buf[i:], r.Uint64())
		}
		if _, err := f.Write(buf[:k]); err != nil {
			b.Fatal(err)
		}
		left -= k
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

func fileSHA256(b *testing.B, path string) string {
	b.Helper()
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		b.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}
