package e2e

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/floelabs/floe/client"
	"github.com/floelabs/floe/internal/devnet"
	"github.com/floelabs/floe/internal/devnet/devnettest"
	"github.com/floelabs/floe/internal/hugemem"
	"github.com/floelabs/floe/redstuff"
)

var (
	perfDir    = flag.String("storecpu.perf", "", "BenchmarkStoreCPU records the storage nodes with perf into this directory")
	compareBin = flag.String("storecpu.compare", "", "BenchmarkStoreCPU also runs a second devnet with this floe binary (or a script "+
		"that runs one) and alternates stores between the two devnets, logging both")
	storeTLS   = flag.Bool("storecpu.tls", false, "BenchmarkStoreCPU: the client talks TLS to the (loopback) nodes, as to remote ones")
	compareTLS = flag.Bool("storecpu.compare-tls", false, "BenchmarkStoreCPU also runs a second devnet (with -storecpu.compare's binary, "+
		"else the same) whose client talks TLS to the nodes, and alternates stores between the two devnets")
)

// BenchmarkStoreCPU measures, on the default devnet (10 nodes, 1000 shards), the CPU seconds a
// store of 256 MiB through the SDK costs the whole machine, from /proc: the client (this
// process), the storage nodes, the daemon and the control plane, including the nodes'
// background work after the store returns (Pebble flushes, event following), and next to it
// the store's floor measured in the same run: encoding the blob (BenchmarkEncode, into one sliver buffer reused by the tries, as the
// client does), verifying
// every sliver (BenchmarkVerifyAll's work, which the nodes of a committee do between them) and
// writing the slivers' bytes to a file once, with an fsync. Metrics per store: cpu-s of each
// part, floor-s, and x-floor, the ratio of the total to the floor (the target is 1.3);
// idle-cpu-s is what the idle devnet's own ticking (measured for 3 s before the stores) comes
// to over a store's measurement, which counts it (it is not taken off).
//
// The floor is measured around every timed store, once before it and once after (the one
// after a store is the one before the next), and each part of the store's floor is the
// lesser of the two: the speed of these virtual machines drifts by a third and more from
// minute to minute with their neighbours' load, so a floor measured once at the start made
// the ratio follow the drift rather than the store. x-floor is the timed stores' total over
// their floors' total; x-start-floor compares them with the floor measured before them all
// (the least of three tries), as this benchmark did until 2026-12.
//
// The first store of a process is measured apart, before the timed ones, and reported as
// first-*-cpu-s and first-x-floor (against the start floor): it may pay for fresh memory (the
// client's sliver buffer, the nodes' upload buffers), which on the virtual machines this runs
// on costs up to several CPU seconds per GB first touched (2 to 7 s for 1.2 GB, varying from
// run to run), where memory written again costs next to nothing. The floor's tries run on
// warm memory, so x-floor compares the warm stores with a warm floor.
//
// -storecpu.perf DIR also records the nodes and the client with perf (perf record -g), into
// DIR/nodes-N.data and DIR/client-N.data for store N (0 for the first), and logs each store's
// CPU split into kinds of work (verify, encode, tls-crypto, socket, storage, tls-records,
// http, gc-alloc, scheduler, kernel-other, other: see perfRules) in CPU seconds, and their
// averages over the timed stores, to say where the CPU beyond the floor goes.
//
// The client talks plain HTTP to the devnet's nodes, as it does to any node at a loopback
// address; -storecpu.tls makes it talk TLS, as to nodes on other machines.
//
// -storecpu.compare BIN runs a second default devnet with the floe binary BIN (e.g. another
// build, or a script that sets FLOE_NODE_GOMAXPROCS and runs floe) and stores the same blob
// on it next to each store on the first (after it, then before it, in turn), logged as
// "compare store N": on a machine whose load
// varies from minute to minute, two builds or settings compared store by store differ by
// their own cost more than by the load. The metrics are the first devnet's.
// -storecpu.compare-tls does the same with a second devnet whose client talks TLS.
func BenchmarkStoreCPU(b *testing.B) {
	if testing.Short() {
		b.Skip("starts a devnet of child processes")
	}
	const size = 256 << 20
	first := startStoreNet(b, floeBin, *storeTLS)
	var other *storeNet
	if *compareBin != "" || *compareTLS {
		bin := *compareBin
		if bin == "" {
			bin = floeBin
		}
		other = startStoreNet(b, bin, *compareTLS)
	}
	ctx := context.Background()
	data := randomBytes(7, size)

	fm := newFloorMeter(b, data, first.info.NShards)
	floor := fm.best(3) // the start floor
	first.settle()
	if other != nil {
		other.settle()
	}
	idleRate := first.idleRate()
	var idleSum time.Duration
	var sum, otherSum map[string]time.Duration
	var floorSum floorCPU // the timed stores' floors, measured around each
	var roundFloor floorCPU
	kinds := map[string]map[string]float64{} // with -storecpu.perf: part, kind of work: CPU s over the timed stores
	kindStores := map[string]int{}           // the timed stores each part's kinds were read for
	round := uint64(0)
	compare := func() {
		d := other.store(ctx, data)
		otherSum = addParts(otherSum, d)
		b.Logf("compare store %d: %s; load %s", round, d, loadAvg())
	}
	measured := func() storeParts {
		stopNodes := startPerf(b, "nodes", first.pids["nodes"], round)
		stopClient := startPerf(b, "client", []int{os.Getpid()}, round)
		start := time.Now()
		d := first.store(ctx, data)
		idle := time.Duration(idleRate * float64(time.Since(start)))
		if round > 0 {
			idleSum += idle
		}
		stopClient()
		stopNodes()
		b.Logf("store %d: %s (of which the idle devnet's own ticking over the same %.1f s: about %.2f); load %s",
			round, d, time.Since(start).Seconds(), idle.Seconds(), loadAvg())
		for _, part := range []string{"nodes", "client"} {
			k := perfKinds(b, part, round, d[part])
			if k == nil || round == 0 {
				continue
			}
			if kinds[part] == nil {
				kinds[part] = map[string]float64{}
			}
			for kind, cpu := range k {
				kinds[part][kind] += cpu
			}
			kindStores[part]++
		}
		return d
	}
	// The first store of each devnet, apart: see above. Each round stores a new blob (the
	// same one on both devnets).
	binary.LittleEndian.PutUint64(data, round+1000)
	firstStore := measured()
	if other != nil {
		d := other.store(ctx, data)
		b.Logf("compare store 0: %s; load %s", d, loadAvg())
	}
	b.Logf("first store: %.2fx the start floor", firstStore.total().Seconds()/floor.total().Seconds())
	before := fm.once()
	b.SetBytes(size)
	for b.Loop() {
		round++
		binary.LittleEndian.PutUint64(data, round+1000)
		if other != nil && round%2 == 0 {
			compare() // every other round first, so that a load that rises or falls favours neither
		}
		d := measured()
		sum = addParts(sum, d)
		if other != nil && round%2 == 1 {
			compare()
		}
		b.StopTimer()
		after := fm.once()
		roundFloor = before.least(after)
		floorSum = floorSum.add(roundFloor)
		b.Logf("store %d: %.2fx its floor, %s (the lesser, part by part, of the floors before it, %.2f, and after it, %.2f)",
			round, d.total().Seconds()/roundFloor.total().Seconds(), roundFloor, before.total().Seconds(), after.total().Seconds())
		before = after
		b.StartTimer()
	}
	avgFloor := floorSum.div(b.N)
	for part, k := range kinds {
		// Averaged over the stores whose recording could be read (perf may fail on one).
		var line []string
		for _, kind := range sortedKinds(k) {
			line = append(line, fmt.Sprintf("%s %.2f", kind, k[kind]/float64(kindStores[part])))
		}
		b.Logf("%s per timed store, by kind of work (cpu-s, %d of %d stores): %s", part, kindStores[part], b.N, strings.Join(line, ", "))
	}
	if other != nil {
		avg := storeParts{}
		for _, p := range storeParts(nil).names() {
			avg[p] = otherSum[p] / time.Duration(b.N)
		}
		b.Logf("compare: %s per store (first devnet: nodes %.2f)", avg, (sum["nodes"] / time.Duration(b.N)).Seconds())
	}
	var total time.Duration
	for _, p := range storeParts(nil).names() {
		per := sum[p] / time.Duration(b.N)
		total += per
		b.ReportMetric(per.Seconds(), p+"-cpu-s/op")
	}
	b.ReportMetric(total.Seconds(), "total-cpu-s/op")
	b.ReportMetric((idleSum / time.Duration(b.N)).Seconds(), "idle-cpu-s/op")
	b.ReportMetric(firstStore["client"].Seconds(), "first-client-cpu-s")
	b.ReportMetric(firstStore["nodes"].Seconds(), "first-nodes-cpu-s")
	b.ReportMetric(firstStore.total().Seconds(), "first-total-cpu-s")
	b.ReportMetric(firstStore.total().Seconds()/floor.total().Seconds(), "first-x-floor")
	b.ReportMetric(avgFloor.encode.Seconds(), "floor-encode-s")
	b.ReportMetric(avgFloor.verify.Seconds(), "floor-verify-s")
	b.ReportMetric(avgFloor.write.Seconds(), "floor-write-s")
	b.ReportMetric(avgFloor.total().Seconds(), "floor-s")
	b.ReportMetric(floor.total().Seconds(), "start-floor-s")
	b.ReportMetric(total.Seconds()/avgFloor.total().Seconds(), "x-floor")
	b.ReportMetric(total.Seconds()/floor.total().Seconds(), "x-start-floor")
}

// storeParts is the CPU time of each part of a store.
type storeParts map[string]time.Duration

func (storeParts) names() []string { return []string{"client", "nodes", "daemon", "controlplane"} }

func (d storeParts) total() time.Duration {
	var t time.Duration
	for _, p := range d.names() {
		t += d[p]
	}
	return t
}

func (d storeParts) String() string {
	var line []string
	for _, p := range d.names() {
		line = append(line, fmt.Sprintf("%s %.2f", p, d[p].Seconds()))
	}
	return fmt.Sprintf("%.2f cpu-s (%s)", d.total().Seconds(), strings.Join(line, ", "))
}

func addParts(sum map[string]time.Duration, d storeParts) map[string]time.Duration {
	if sum == nil {
		sum = map[string]time.Duration{}
	}
	for p, v := range d {
		sum[p] += v
	}
	return sum
}

// storeNet is a default devnet whose stores BenchmarkStoreCPU measures.
type storeNet struct {
	b    *testing.B
	info devnet.Info
	c    *client.Client
	pids map[string][]int
}

func startStoreNet(b *testing.B, bin string, tls bool) *storeNet {
	b.Helper()
	dir := b.TempDir()
	n := devnettest.Start(b, devnet.Config{Dir: dir, Nodes: 10, Shards: 1000, Addr: freeAddr(b), Binary: bin,
		Logger: slog.New(slog.DiscardHandler), DaemonArgs: []string{"--max-body-size", fmt.Sprint(128 << 10)}})
	info := n.Info()
	extra := ""
	if tls {
		extra = "communication:\n  tls_on_loopback: true\n"
	}
	sn := &storeNet{b: b, info: info, c: sdkClientYAML(b, info, extra),
		pids: map[string][]int{"daemon": {info.DaemonPid}, "controlplane": {info.ChainPid}}}
	for _, nd := range info.Nodes {
		sn.pids["nodes"] = append(sn.pids["nodes"], nd.Pid)
	}
	return sn
}

// sample returns the CPU time each part has used so far (the client is this process).
func (sn *storeNet) sample() storeParts {
	m := storeParts{"client": selfCPU(sn.b)}
	for part, ps := range sn.pids {
		for _, pid := range ps {
			m[part] += procCPU(sn.b, pid)
		}
	}
	return m
}

// settle waits until the devnet's processes stop using CPU (the nodes flush and follow
// events after a store returns), at most 30 s.
func (sn *storeNet) settle() {
	prev := sn.sample()
	for range 60 {
		time.Sleep(500 * time.Millisecond)
		cur := sn.sample()
		var d time.Duration
		for _, p := range cur.names()[1:] {
			d += cur[p] - prev[p]
		}
		prev = cur
		if d < 40*time.Millisecond { // the idle devnet's own ticking
			return
		}
	}
}

// idleRate returns the CPU the idle devnet (nodes, daemon, control plane) uses per second of
// wall time, over 3 s: its own ticking (event polls, metrics scrapes, timers), which a store's
// measurement counts too for as long as it lasts.
func (sn *storeNet) idleRate() float64 {
	before, start := sn.sample(), time.Now()
	time.Sleep(3 * time.Second)
	after, wall := sn.sample(), time.Since(start)
	var d time.Duration
	for _, p := range after.names()[1:] {
		d += after[p] - before[p]
	}
	sn.b.Logf("idle devnet: %.0f ms of CPU per second", 1000*d.Seconds()/wall.Seconds())
	return float64(d) / float64(wall)
}

// store stores data and returns what it cost each part, until the devnet settled.
func (sn *storeNet) store(ctx context.Context, data []byte) storeParts {
	before := sn.sample()
	if _, err := sn.c.StoreBytes(ctx, data, client.StoreOptions{Epochs: 1, Force: true}); err != nil {
		sn.b.Fatal(err)
	}
	sn.settle()
	after := sn.sample()
	d := storeParts{}
	for _, p := range d.names() {
		d[p] = after[p] - before[p]
	}
	return d
}

type floorCPU struct{ encode, verify, write time.Duration }

func (f floorCPU) total() time.Duration { return f.encode + f.verify + f.write }

func (f floorCPU) String() string {
	return fmt.Sprintf("encode %.2f + verify %.2f + write %.2f = %.2f cpu-s", f.encode.Seconds(), f.verify.Seconds(), f.write.Seconds(), f.total().Seconds())
}

// least is the lesser of f and g, part by part.
func (f floorCPU) least(g floorCPU) floorCPU {
	return floorCPU{min(f.encode, g.encode), min(f.verify, g.verify), min(f.write, g.write)}
}

func (f floorCPU) add(g floorCPU) floorCPU {
	return floorCPU{f.encode + g.encode, f.verify + g.verify, f.write + g.write}
}

func (f floorCPU) div(n int) floorCPU {
	d := time.Duration(max(n, 1))
	return floorCPU{f.encode / d, f.verify / d, f.write / d}
}

// floorMeter measures, in this process, the CPU the store of data cannot avoid: encoding it,
// verifying every sliver on all cores, and writing every sliver's bytes once (then fsync).
type floorMeter struct {
	b    *testing.B
	enc  *redstuff.Encoder
	data []byte
	mem  []byte
}

func newFloorMeter(b *testing.B, data []byte, nShards int) *floorMeter {
	b.Helper()
	enc, err := redstuff.New(nShards)
	if err != nil {
		b.Fatal(err)
	}
	// The slivers and the encoding's working memory (EncodeMemory) go into one buffer reused
	// by every try, as the client's encodings into the buffer it keeps (huge pages,
	// populated at once): a new 1.2 GB encoding per try paid for fresh memory in every try
	// on these VMs (the floor's encode 1.04-1.51 CPU s where the client's encode of the same
	// blob took 0.8-0.9).
	need, err := enc.EncodeMemory(uint64(len(data)))
	if err != nil {
		b.Fatal(err)
	}
	mem, whole := hugemem.Map(need)
	if mem == nil {
		mem = make([]byte, need)
	} else {
		hugemem.Populate(mem)
		b.Cleanup(func() { hugemem.Unmap(whole) })
	}
	return &floorMeter{b: b, enc: enc, data: data, mem: mem}
}

// once measures the floor once.
func (m *floorMeter) once() floorCPU { return floorOnce(m.b, m.enc, m.data, m.mem) }

// best is the least of tries measures, part by part.
func (m *floorMeter) best(tries int) floorCPU {
	f := m.once()
	for range tries - 1 {
		f = f.least(m.once())
	}
	m.b.Logf("start floor (least of %d tries): %s; load %s", tries, f, loadAvg())
	return f
}

func floorOnce(b *testing.B, enc *redstuff.Encoder, data, mem []byte) floorCPU {
	b.Helper()
	nShards := enc.Params().NShards
	var f floorCPU
	runtime.GC()
	start := selfCPU(b)
	e, err := enc.EncodeInto(data, mem)
	if err != nil {
		b.Fatal(err)
	}
	f.encode = selfCPU(b) - start

	var all []redstuff.Sliver
	for p := range nShards {
		pr, se := e.Pair(p)
		all = append(all, pr, se)
	}
	start = selfCPU(b)
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Bool
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(all) {
					return
				}
				if err := enc.VerifySliver(all[i], e.SymbolSize, e.Hashes); err != nil {
					failed.Store(true)
					return
				}
			}
		})
	}
	wg.Wait()
	f.verify = selfCPU(b) - start
	if failed.Load() {
		b.Fatal("a sliver of a fresh encoding does not verify")
	}

	path := filepath.Join(b.TempDir(), "slivers")
	start = selfCPU(b)
	fh, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	for _, sl := range all {
		if _, err := fh.Write(sl.Data); err != nil {
			b.Fatal(err)
		}
	}
	if err := fh.Sync(); err != nil {
		b.Fatal(err)
	}
	if err := fh.Close(); err != nil {
		b.Fatal(err)
	}
	f.write = selfCPU(b) - start
	if err := os.Remove(path); err != nil {
		b.Fatal(err)
	}
	return f
}

// clockTicks is the unit of /proc/PID/stat's CPU times (USER_HZ, 100 on Linux).
const clockTicks = 100

// procCPU returns the user + system CPU time process pid has used, from /proc/PID/stat.
func procCPU(b *testing.B, pid int) time.Duration {
	b.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatalf("CPU time of process %d: %v", pid, err)
	}
	// The command name (field 2) may hold spaces: fields count from after its ')'.
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		b.Fatalf("/proc/%d/stat: no ')' in %q", pid, s)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		b.Fatalf("/proc/%d/stat: %d fields", pid, len(f))
	}
	var ticks int64
	for _, x := range f[11:13] { // utime, stime: fields 14 and 15
		v, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			b.Fatalf("/proc/%d/stat: %v", pid, err)
		}
		ticks += v
	}
	return time.Duration(ticks) * time.Second / clockTicks
}

func selfCPU(b *testing.B) time.Duration { return procCPU(b, os.Getpid()) }

// startPerf starts perf recording processes pids into perfDir/NAME-RUN.data (if perfDir is
// set) and returns what stops it.
func startPerf(b *testing.B, name string, pids []int, run uint64) (stop func()) {
	b.Helper()
	if *perfDir == "" {
		return func() {}
	}
	ps := make([]string, len(pids))
	for i, p := range pids {
		ps[i] = strconv.Itoa(p)
	}
	out := filepath.Join(*perfDir, fmt.Sprintf("%s-%d.data", name, run))
	cmd := exec.Command("perf", "record", "-g", "-F", "499", "-o", out, "-p", strings.Join(ps, ","))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatalf("perf (install linux-perf, or run without -storecpu.perf): %v", err)
	}
	return func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		if err := cmd.Wait(); err != nil {
			b.Logf("perf record: %v", err)
		}
	}
}

// perfKinds splits the CPU seconds cpu of part in store run among kinds of work by the
// samples of its perf recording, and logs the split; nil without -storecpu.perf.
func perfKinds(b *testing.B, part string, run uint64, cpu time.Duration) map[string]float64 {
	b.Helper()
	if *perfDir == "" {
		return nil
	}
	p, err := perfBreakdownOf(filepath.Join(*perfDir, fmt.Sprintf("%s-%d.data", part, run)))
	if err != nil {
		b.Logf("perf breakdown of %s in store %d: %v", part, run, err)
		return nil
	}
	b.Logf("store %d, %s by kind of work (cpu-s): %s", run, part, p.format(cpu.Seconds()))
	out := map[string]float64{}
	for kind := range p.samples {
		out[kind] = p.share(kind) * cpu.Seconds()
	}
	return out
}

// sortedKinds returns the kinds of k, largest first.
func sortedKinds(k map[string]float64) []string {
	out := make([]string, 0, len(k))
	for kind := range k {
		out = append(out, kind)
	}
	sort.Slice(out, func(i, j int) bool { return k[out[i]] > k[out[j]] })
	return out
}

// loadAvg returns the 1, 5 and 15 minute load averages, for the log.
func loadAvg() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
