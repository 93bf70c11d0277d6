package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/floelabs/floe/client"
)

// fakeClock advances by step at every reading.
func fakeClock(step time.Duration) func() time.Time {
	t := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return func() time.Time { t = t.Add(step); return t }
}

// runReporter drives a reporter through a store of a 3000-byte blob whose slivers are 1000
// bytes, with the progress calls the SDK makes.
func runReporter(tty bool, clock func() time.Time, done ...int64) string {
	var b bytes.Buffer
	r := newStoreReporter(&b, tty, "a.txt", 3000)
	r.now = clock
	opts := r.options(client.StoreOptions{})
	opts.Phase(client.PhaseEncoding)
	opts.Phase(client.PhaseUploading)
	for _, d := range done {
		opts.Progress(d, 1000)
	}
	opts.Phase(client.PhaseCertifying)
	r.finish()
	return b.String()
}

func TestStoreReporterPlain(t *testing.T) {
	got := runReporter(false, fakeClock(time.Second), 0, 100, 240, 250, 260, 500, 740, 760, 1000)
	want := "a.txt: encoding 2.9 KiB\n" +
		"a.txt: encoded in 2s; uploading 2.9 KiB\n" + // the fake clock ticks at each reading
		"a.txt: uploaded 750 B/2.9 KiB (25%)\n" +
		"a.txt: uploaded 1.5 KiB/2.9 KiB (50%)\n" +
		"a.txt: uploaded 2.2 KiB/2.9 KiB (76%)\n" +
		"a.txt: uploaded 2.9 KiB/2.9 KiB (100%)\n" +
		"a.txt: certifying\n"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	// A slow upload also prints between the quarters, at most every statusEvery.
	got = runReporter(false, fakeClock(statusEvery), 0, 100, 110, 120, 1000)
	if n := strings.Count(got, "uploaded "); n != 4 {
		t.Fatalf("slow upload: %d progress lines, want 4:\n%s", n, got)
	}
}

func TestStoreReporterTerminal(t *testing.T) {
	got := runReporter(true, fakeClock(time.Second), 0, 500, 1000)
	if strings.Contains(got, "\n") {
		t.Fatalf("the terminal line is not redrawn in place: %q", got)
	}
	frames := strings.Split(got, "\r\x1b[K")
	want := []string{"", "a.txt: encoding 2.9 KiB", "a.txt: uploading 2.9 KiB",
		"a.txt: uploading [                        ]   0% 0 B/2.9 KiB",
		"a.txt: uploading [############            ]  50% 1.5 KiB/2.9 KiB",
		"a.txt: uploading [########################] 100% 2.9 KiB/2.9 KiB",
		"a.txt: certifying", ""}
	if fmt.Sprintf("%q", frames) != fmt.Sprintf("%q", want) {
		t.Fatalf("frames\n%q\nwant\n%q", frames, want)
	}
}

// TestStoreProgress stores through the CLI on a devnet with standard error not a terminal: the
// store says it encodes, then how many of the blob's bytes are uploaded, up to the size the
// summary prints; --json output stays JSON; --epochs beyond the network's limit is refused
// with the limit before anything is encoded, for store and store-quilt.
func TestStoreProgress(t *testing.T) {
	info := startDevnet(t)
	dir := t.TempDir()
	ctx := context.Background()
	floe := func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		code := RunIO(ctx, append([]string{"--config", info.ClientConfig}, args...), strings.NewReader(""), &out, &errb)
		return out.String(), errb.String(), code
	}
	file := func(name string, size int, seed byte) string {
		p := filepath.Join(dir, name)
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(i*7) ^ seed
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	big := file("big.bin", 5<<20+12345, 1)
	out, errOut, code := floe("store", big, "--epochs", "2")
	if code != 0 {
		t.Fatalf("store: exit %d: %s%s", code, out, errOut)
	}
	t.Logf("store big.bin, standard error:\n%s", errOut)
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	size := regexp.MustCompile(`(?m)^Unencoded size: (.+)$`).FindStringSubmatch(out)
	if size == nil {
		t.Fatalf("no size in the summary:\n%s", out)
	}
	want := []string{"big.bin: encoding " + size[1], "big.bin: uploaded " + size[1] + "/" + size[1] + " (100%)", "big.bin: certifying"}
	if len(lines) < 4 || lines[0] != want[0] || !strings.HasPrefix(lines[1], "big.bin: encoded in ") ||
		!strings.HasSuffix(lines[1], "; uploading "+size[1]) || lines[len(lines)-2] != want[1] || lines[len(lines)-1] != want[2] {
		t.Fatalf("standard error:\n%s\nwant %q, an encoded line, progress up to %q, %q", errOut, want[0], want[1], want[2])
	}

	small := file("small.bin", 3000, 2)
	out, errOut, code = floe("store", small, "--epochs", "2", "--json")
	if code != 0 {
		t.Fatalf("store --json: exit %d: %s%s", code, out, errOut)
	}
	checkShape(t, "store", []byte(out))
	if !strings.HasPrefix(errOut, "small.bin: encoding 2.9 KiB\n") || !strings.HasSuffix(errOut, "small.bin: certifying\n") {
		t.Fatalf("store --json, standard error:\n%s", errOut)
	}

	var epochInfo struct {
		MaxEpochsAhead uint32 `json:"maxEpochsAhead"`
	}
	if out, _, _ := floe("info", "epoch", "--json"); json.Unmarshal([]byte(out), &epochInfo) != nil || epochInfo.MaxEpochsAhead == 0 {
		t.Fatalf("info epoch: %s", out)
	}
	tooMany := fmt.Sprint(epochInfo.MaxEpochsAhead + 1)
	limit := fmt.Sprintf("up to %d epochs ahead", epochInfo.MaxEpochsAhead)
	for _, args := range [][]string{{"store", big, "--epochs", tooMany, "--force"}, {"store-quilt", "--paths", small, big, "--epochs", tooMany}} {
		out, errOut, code := floe(args...)
		if code != 2 || !strings.Contains(errOut, limit) || strings.Contains(errOut, "encoding") {
			t.Fatalf("%s --epochs %s: exit %d, want 2 with %q and no encoding: %s%s", args[0], tooMany, code, limit, out, errOut)
		}
	}
	out, errOut, code = floe("store-quilt", "--paths", small, big, "--epochs", "max")
	if code != 0 || !strings.HasPrefix(errOut, "quilt of 2 patches: encoding\n") || !strings.Contains(errOut, "quilt of 2 patches: uploaded 100%\n") {
		t.Fatalf("store-quilt --epochs max: exit %d: %s%s", code, out, errOut)
	}
}
