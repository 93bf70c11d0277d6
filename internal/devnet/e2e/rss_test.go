package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/floelabs/floe/internal/devnet"
	"github.com/floelabs/floe/internal/storagenode/byzantine"
)

var (
	rssSize = flag.Int64("rss.size", 1<<30, "BenchmarkPeakRSS: the size of the blob stored and read")
	rssRead = flag.Bool("rss.read", true, "BenchmarkPeakRSS: also measure the degraded read (false: the store only, for sizes whose read copy would not fit on the disk)")
	// rssDiscard runs the nodes in the test-only mode discard-slivers (a binary built with
	// the build tag floetest): they verify every sliver, then drop it, and confirm anyway.
	rssDiscard = flag.Bool("rss.discard", false, "BenchmarkPeakRSS: run the nodes in the TEST-ONLY mode discard-slivers (verify, then discard; implies -rss.read=false): "+
		"measures the client's memory on blobs whose slivers would not fit on the disk, not the nodes' storage")
	rssMinFree = flag.Int64("rss.minfree", 4<<30, "BenchmarkPeakRSS: stop the store and fail if the disk's free space falls below this many bytes")
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
//
// -rss.discard measures the store only, with every node in the TEST-ONLY mode discard-slivers
// (internal/storagenode/byzantine): the nodes verify each sliver against the metadata, then
// drop it, and sign confirmations anyway. The disk then holds only the file and the client's
// sliver file (about 5.5x the size: 10 GiB needs 57 GB). It measures the CLIENT's memory,
// not the nodes' storage: `go test ./internal/devnet/e2e -run XXX -bench PeakRSS -benchtime 1x
// -args -rss.size 10737418240 -rss.discard`. Whatever the mode, the store is stopped and
// the benchmark fails if the disk's free space falls below -rss.minfree.
func BenchmarkPeakRSS(b *testing.B) {
	if testing.Short() {
		b.Skip("starts a devnet of child processes")
	}
	size := *rssSize
	dir := b.TempDir()
	if *rssDiscard {
		*rssRead = false
		// The file and the client's sliver file (n = 1000 expands 4.5x), with room to spare.
		if need, free := size*11/2+*rssMinFree, diskFree(b, dir); free < need {
			b.Fatalf("-rss.discard of %d bytes needs %d bytes free on %s, %d are", size, need, dir, free)
		}
	}
	n := startNet(b, filepath.Join(dir, "net"), 10, 1000, 0)
	info := n.Info()
	if *rssDiscard {
		discardingNodes(b, n, filepath.Join(dir, "floe-floetest"))
	}
	file := filepath.Join(dir, "blob.bin")
	writeRandomFile(b, file, size)
	round := uint64(0)
	var storeRSS, readRSS int64
	for b.Loop() {
		round++
		stampRound(b, file, round) // a new blob each round
		want := fileSHA256(b, file)

		out, _, sRSS := runMeasured(b, dir, "store", "--config", info.ClientConfig, "--epochs", "1", "--force", "--json", file)
		storeRSS = max(storeRSS, sRSS)
		m := regexp.MustCompile(`"blobId":\s*"([A-Za-z0-9_-]+)"`).FindSubmatch(out)
		if m == nil {
			b.Fatalf("no blob ID in the store's output:\n%s", out)
		}
		id := string(m[1])

		if !*rssRead {
			b.Logf("round %d: %d MiB: store peak RSS %d MiB (nodes discarding slivers: %v); load %s", round, size>>20, sRSS>>20, *rssDiscard, loadAvg())
			continue
		}
		for i := range 3 {
			if err := n.Node(i).Stop(10 * time.Second); err != nil {
				b.Fatal(err)
			}
		}
		got := filepath.Join(dir, "read.bin")
		_, logs, rRSS := runMeasured(b, dir, "read", "-v", "--config", info.ClientConfig, "--out", got, id)
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
// resident set size in bytes. It kills floe and fails if the free space of the disk holding
// dir falls below -rss.minfree (a run must not fill the disk other work shares).
func runMeasured(b *testing.B, dir string, args ...string) (stdout, stderr []byte, maxRSS int64) {
	b.Helper()
	cmd := exec.Command(floeBin, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	var low atomic.Int64
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			if free := diskFree(b, dir); free < *rssMinFree {
				low.Store(free)
				_ = cmd.Process.Kill()
				return
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	if free := low.Load(); free != 0 {
		b.Fatalf("floe %s: stopped: the disk's free space fell to %d MiB (-rss.minfree %d MiB)", args[0], free>>20, *rssMinFree>>20)
	}
	if err != nil {
		b.Fatalf("floe %s: %v\n%s", strings.Join(args, " "), err, e.Bytes())
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		b.Fatal("no rusage for the child process")
	}
	return o.Bytes(), e.Bytes(), ru.Maxrss << 10 // Linux reports KiB
}

// diskFree returns the bytes free for unprivileged users on the file system holding dir.
func diskFree(b *testing.B, dir string) int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		b.Fatal(err)
	}
	return int64(st.Bavail) * st.Bsize
}

// discardingNodes builds floe with the build tag floetest into bin and restarts every node of
// n with it in the TEST-ONLY mode discard-slivers.
func discardingNodes(b *testing.B, n *devnet.Network, bin string) {
	b.Helper()
	build := exec.Command("go", "build", "-tags", "floetest", "-o", bin, "github.com/floelabs/floe/cmd/floe")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("building floe -tags floetest: %v\n%s", err, out)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // readiness only, no data
	defer hc.CloseIdleConnections()
	info := n.Info()
	for i := range n.NodeCount() {
		p := n.Node(i)
		if err := p.Stop(10 * time.Second); err != nil {
			b.Fatal(err)
		}
		p.Argv = append(append([]string{bin}, p.Argv[1:]...), "--byzantine", string(byzantine.DiscardSlivers))
		if err := p.Start(); err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		err := p.WaitReady(ctx, slog.New(slog.DiscardHandler), func(ctx context.Context) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, info.Nodes[i].URL+"/v1/health", nil)
			if err != nil {
				return err
			}
			resp, err := hc.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("health: %s", resp.Status)
			}
			return nil
		})
		cancel()
		if err != nil {
			b.Fatal(err)
		}
	}
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

var rssSpillAbove = flag.Int64("rss.spill-above", 64<<10, "BenchmarkPublisherPeakRSS: the publisher's --publisher-spill-above, in KiB (-1: bodies in memory, as before the publisher spilled them)")

// BenchmarkPublisherPeakRSS measures the peak resident memory (VmHWM) of a publisher daemon
// (`floe daemon`, a child process on the default devnet) that receives one PUT /v1/blobs of a
// -rss.size file (default 1 GiB), streamed from the file with its Content-Length, and stores
// it; the blob read back through the daemon must equal the file. -rss.spill-above sets the
// daemon's --publisher-spill-above (KiB; -1 keeps bodies in memory, as before spilling).
// Metrics: publisher-peak-MiB and its multiple of the size. The disk holds the file, the
// spilled body, the client's sliver file and the nodes' slivers: about 11x the size.
func BenchmarkPublisherPeakRSS(b *testing.B) {
	if testing.Short() {
		b.Skip("starts a devnet of child processes")
	}
	size := *rssSize
	dir := b.TempDir()
	if need, free := size*11+*rssMinFree, diskFree(b, dir); free < need {
		b.Fatalf("a PUT of %d bytes needs %d bytes free on %s, %d are", size, need, dir, free)
	}
	n := startNet(b, filepath.Join(dir, "net"), 10, 1000, 0)
	info := n.Info()
	file := filepath.Join(dir, "blob.bin")
	writeRandomFile(b, file, size)
	var peak int64
	round := uint64(0)
	for b.Loop() {
		round++
		stampRound(b, file, round)
		hwm := publisherPut(b, info, dir, file, size)
		peak = max(peak, hwm)
		b.Logf("round %d: PUT of %d MiB (--publisher-spill-above %d KiB): publisher peak RSS %d MiB; load %s", round, size>>20, *rssSpillAbove, hwm>>20, loadAvg())
	}
	b.ReportMetric(float64(peak)/(1<<20), "publisher-peak-MiB")
	b.ReportMetric(float64(peak)/float64(size), "publisher-peak/size")
}

// stampRound writes round into the first 8 bytes of file, making it a new blob.
func stampRound(b *testing.B, file string, round uint64) {
	b.Helper()
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
}

// publisherPut starts a publisher on the devnet, PUTs file to it, checks the blob read back
// and returns the publisher's peak RSS in bytes; the publisher is stopped before it returns.
func publisherPut(b *testing.B, info devnet.Info, dir, file string, size int64) int64 {
	b.Helper()
	addr := freeAddr(b)
	base := "http://" + addr
	tmp := filepath.Join(dir, "publisher-tmp")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(floeBin, "daemon", "--config", info.ClientConfig, "--bind-address", addr, "--metrics-address", "off",
		"--max-body-size", fmt.Sprint(size>>10+1), "--publisher-spill-above", fmt.Sprint(*rssSpillAbove))
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	hc := &http.Client{}
	for deadline := time.Now().Add(time.Minute); ; {
		resp, err := hc.Get(base + "/status")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("the publisher did not answer: %v\n%s", err, logs.Bytes())
		}
		time.Sleep(100 * time.Millisecond)
	}
	f, err := os.Open(file)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	req, err := http.NewRequest(http.MethodPut, base+"/v1/blobs?epochs=1&force=true", f)
	if err != nil {
		b.Fatal(err)
	}
	req.ContentLength = size
	resp, err := hc.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("PUT: %s: %s\n%s", resp.Status, body, logs.Bytes())
	}
	hwm := vmHWM(b, cmd.Process.Pid)
	m := regexp.MustCompile(`"blobId":\s*"([A-Za-z0-9_-]+)"`).FindSubmatch(body)
	if m == nil {
		b.Fatalf("no blob ID in the PUT's answer: %s", body)
	}
	resp, err = hc.Get(base + "/v1/blobs/" + string(m[1]))
	if err != nil {
		b.Fatal(err)
	}
	h := sha256.New()
	_, err = io.Copy(h, resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("reading the blob back: %s %v", resp.Status, err)
	}
	if fmt.Sprintf("%x", h.Sum(nil)) != fileSHA256(b, file) {
		b.Fatal("the blob read back differs from the file PUT")
	}
	if es, err := os.ReadDir(tmp); err != nil || len(es) != 0 {
		b.Fatalf("the publisher left %d temporary files (%v)", len(es), err)
	}
	return hwm
}

// vmHWM returns the peak resident set size of process pid, in bytes.
func vmHWM(b *testing.B, pid int) int64 {
	b.Helper()
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	m := regexp.MustCompile(`VmHWM:\s*(\d+) kB`).FindSubmatch(st)
	if m == nil {
		b.Fatalf("no VmHWM in /proc/%d/status", pid)
	}
	kb, err := strconv.ParseInt(string(m[1]), 10, 64)
	if err != nil {
		b.Fatal(err)
	}
	return kb << 10
}
