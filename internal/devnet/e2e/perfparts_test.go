package e2e

import (
	"bufio"
	"fmt"
	"io"
	"os/exec"
	"sort"
	"strings"
)

// A perfRule names a kind of work and the call-chain frames that mark it: a sample belongs to
// the first rule one of whose substrings occurs in one of its frames (any frame from the leaf
// to the root), or, with leaf set, in its leaf frame only.
type perfRule struct {
	name string
	leaf bool
	subs []string
}

// perfRules are the kinds of work a store's CPU is split into, in the order they are tried:
// the floor's own work first (encoding, verifying), then what a store adds around it.
func perfRules() []perfRule {
	return []perfRule{
		{name: "verify", subs: []string{"redstuff.(*Encoder).SliverHash", "redstuff.(*Encoder).VerifySliver"}},
		{name: "encode", subs: []string{"redstuff.(*Encoder).expand", "redstuff.(*Encoder).commitment", "redstuff.(*Encoder).parallel"}},
		{name: "tls-crypto", subs: []string{"crypto/internal/fips140/aes", "crypto/internal/fips140/subtle.xorBytes"}},
		{name: "socket", subs: []string{"tcp_recvmsg", "tcp_sendmsg", "sock_read_iter", "sock_write_iter", "__sys_recvfrom", "__sys_sendto",
			"net.(*conn).Read", "net.(*conn).Write", "internal/rawsock.", "tcp_v4_rcv", "__dev_queue_xmit", "net_rx_action",
			"unix_stream_sendmsg", "unix_stream_recvmsg", "unix_stream_read_generic"}},
		{name: "storage", subs: []string{"internal/nodestore.", "cockroachdb/pebble", "internal/uring.", "io_wq_worker", "io_uring",
			"ext4_", "vfs_fsync", "blk_", "submit_bio", "writeback"}},
		{name: "tls-records", subs: []string{"crypto/tls."}},
		{name: "http", subs: []string{"net/http.", "internal/nodeclient."}},
		{name: "gc-alloc", subs: []string{"runtime.gcBgMarkWorker", "runtime.gcDrain", "runtime.mallocgc", "runtime.bgsweep",
			"runtime.bgscavenge", "runtime.(*mheap)", "runtime.gcStart", "runtime.markroot", "runtime.(*gcWork)", "runtime.scanobject"}},
		{name: "scheduler", subs: []string{"runtime.schedule", "runtime.findRunnable", "runtime.netpoll", "runtime.sysmon", "runtime.mcall",
			"runtime.park_m", "runtime.futex", "runtime.usleep", "runtime.notesleep", "runtime.mstart", "runtime.goexit0",
			"runtime.stopm", "runtime.startm", "runtime.wakep", "runtime.ready", "finish_task_switch", "schedule_hrtimeout"}},
		{name: "kernel-other", leaf: true, subs: []string{"[kernel.kallsyms]"}},
	}
}

// perfBreakdown is how many of a recording's samples fell in each kind of work ("other" for
// those no rule matched).
type perfBreakdown struct {
	samples map[string]int
	total   int
}

// classifyPerfScript reads the output of `perf script -F comm,ip,sym,dso` (a line naming the
// command, then one tab-indented line per frame, leaf first, then a blank line) and counts
// its samples by kind of work. Samples of io_uring's kernel workers (comm iou-wrk-*) count as
// storage whatever their frames.
func classifyPerfScript(r io.Reader, rules []perfRule) (perfBreakdown, error) {
	out := perfBreakdown{samples: map[string]int{}}
	var comm string
	var frames []string
	flush := func() {
		if comm == "" && len(frames) == 0 {
			return
		}
		out.total++
		out.samples[classifySample(comm, frames, rules)]++
		comm, frames = "", frames[:0]
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "":
			flush()
		case line[0] == '\t' || line[0] == ' ':
			frames = append(frames, strings.TrimSpace(line))
		default:
			flush()
			comm = strings.TrimSpace(line)
		}
	}
	flush()
	if err := sc.Err(); err != nil {
		return perfBreakdown{}, fmt.Errorf("reading perf script: %w", err)
	}
	return out, nil
}

func classifySample(comm string, frames []string, rules []perfRule) string {
	if strings.HasPrefix(comm, "iou-wrk") {
		return "storage"
	}
	for _, r := range rules {
		scope := frames
		if r.leaf && len(frames) > 0 {
			scope = frames[:1]
		}
		for _, f := range scope {
			for _, s := range r.subs {
				if strings.Contains(f, s) {
					return r.name
				}
			}
		}
	}
	return "other"
}

// share returns kind's share of the samples.
func (p perfBreakdown) share(kind string) float64 {
	if p.total == 0 {
		return 0
	}
	return float64(p.samples[kind]) / float64(p.total)
}

// format lists the kinds by their CPU seconds, given the recorded processes' CPU seconds.
func (p perfBreakdown) format(cpu float64) string {
	kinds := make([]string, 0, len(p.samples))
	for k := range p.samples {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool { return p.samples[kinds[i]] > p.samples[kinds[j]] })
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s %.2f (%.0f%%)", k, p.share(k)*cpu, 100*p.share(k))
	}
	return fmt.Sprintf("%d samples: %s", p.total, strings.Join(parts, ", "))
}

// perfBreakdownOf classifies the samples of the perf recording at path.
func perfBreakdownOf(path string) (perfBreakdown, error) {
	cmd := exec.Command("perf", "script", "-F", "comm,ip,sym,dso", "-i", path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return perfBreakdown{}, err
	}
	if err := cmd.Start(); err != nil {
		return perfBreakdown{}, fmt.Errorf("perf script: %w", err)
	}
	p, cerr := classifyPerfScript(stdout, perfRules())
	if err := cmd.Wait(); err != nil {
		return perfBreakdown{}, fmt.Errorf("perf script -i %s: %w", path, err)
	}
	return p, cerr
}
