package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/floelabs/floe/internal/devnet"
)

// tool returns the path of a client installed by scripts/setup (Debian's package first), or
// skips the test naming the tool.
func tool(t testing.TB, name string) string {
	t.Helper()
	if p := "/usr/bin/" + name; fileExists(p) {
		return p
	}
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("SKIPPED: %s is not installed (scripts/setup installs Debian's package); the S3 client test needs it", name)
	}
	return p
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// run runs a command and fails the test with its output if it fails.
func run(t testing.TB, env []string, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out.Bytes())
	}
	t.Logf("%s %s (%.1fs)", filepath.Base(name), strings.Join(args, " "), time.Since(start).Seconds())
	return out.Bytes()
}

// clientEnv is the environment of the S3 clients: the devnet's key, no configuration files,
// no instance metadata service, only 127.0.0.1.
func clientEnv(t testing.TB, info devnet.Info) []string {
	home := t.TempDir()
	return []string{
		"HOME=" + home, "PATH=/usr/bin:/bin", "LANG=C.UTF-8",
		"AWS_ACCESS_KEY_ID=" + info.S3AccessKey, "AWS_SECRET_ACCESS_KEY=" + info.S3SecretKey,
		"AWS_DEFAULT_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "none"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "none"),
		"AWS_PAGER=", "NO_PROXY=127.0.0.1", "no_proxy=127.0.0.1",
	}
}

func fileSum(t testing.TB, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func writeRandom(t testing.TB, path string, seed uint64, n int) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, randomBytes(seed, n), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestAWSCLI drives the gateway with the AWS CLI: aws s3 mb/cp/ls/rm, and a 200 MiB
// multipart upload through aws s3api, read back byte for byte.
func TestAWSCLI(t *testing.T) {
	if !*long {
		t.Skip("with -s3.long (.ci/run)")
	}
	awsBin := tool(t, "aws")
	n := startNet(t, 4, 40)
	info := n.Info()
	env := clientEnv(t, info)
	aws := func(args ...string) []byte {
		return run(t, env, awsBin, append([]string{"--endpoint-url", info.S3, "--no-cli-pager"}, args...)...)
	}
	dir := t.TempDir()
	small, mid := filepath.Join(dir, "small.txt"), filepath.Join(dir, "mid.bin")
	writeRandom(t, small, 1, 1000)
	writeRandom(t, mid, 2, 20<<20+7) // over the CLI's 8 MiB multipart threshold
	aws("s3", "mb", "s3://cli")
	aws("s3", "cp", "--only-show-errors", small, "s3://cli/docs/small.txt")
	aws("s3", "cp", "--only-show-errors", mid, "s3://cli/data/mid.bin")
	ls := string(aws("s3", "ls", "--recursive", "s3://cli"))
	if !strings.Contains(ls, "docs/small.txt") || !strings.Contains(ls, fmt.Sprint(20<<20+7)) {
		t.Fatalf("aws s3 ls:\n%s", ls)
	}
	if top := string(aws("s3", "ls", "s3://cli/")); !strings.Contains(top, "PRE docs/") || !strings.Contains(top, "PRE data/") {
		t.Fatalf("aws s3 ls of the top level:\n%s", top)
	}
	for _, f := range []string{"docs/small.txt", "data/mid.bin"} {
		back := filepath.Join(dir, "back-"+filepath.Base(f))
		aws("s3", "cp", "--only-show-errors", "s3://cli/"+f, back)
		if fileSum(t, back) != fileSum(t, filepath.Join(dir, filepath.Base(f))) {
			t.Fatalf("%s read back differs", f)
		}
	}
	aws("s3", "rm", "s3://cli/docs/small.txt")
	if ls := string(aws("s3", "ls", "--recursive", "s3://cli")); strings.Contains(ls, "small.txt") {
		t.Fatalf("after aws s3 rm:\n%s", ls)
	}

	// 200 MiB in four parts through the low-level API.
	big := filepath.Join(dir, "big.bin")
	const partSize = 50 << 20
	var parts []string
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		p := filepath.Join(dir, fmt.Sprintf("part%d", i+1))
		data := randomBytes(uint64(10+i), partSize)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		f.Write(data)
		parts = append(parts, p)
	}
	f.Close()
	var created struct{ UploadId string }
	if err := json.Unmarshal(aws("s3api", "create-multipart-upload", "--bucket", "cli", "--key", "big/200MiB.bin", "--output", "json"), &created); err != nil || created.UploadId == "" {
		t.Fatalf("create-multipart-upload: %v", err)
	}
	type part struct {
		ETag       string
		PartNumber int
	}
	var done struct{ Parts []part }
	for i, p := range parts {
		var up struct{ ETag string }
		out := aws("s3api", "upload-part", "--bucket", "cli", "--key", "big/200MiB.bin", "--upload-id", created.UploadId,
			"--part-number", fmt.Sprint(i+1), "--body", p, "--output", "json")
		if err := json.Unmarshal(out, &up); err != nil || up.ETag == "" {
			t.Fatalf("upload-part: %v %s", err, out)
		}
		done.Parts = append(done.Parts, part{ETag: up.ETag, PartNumber: i + 1})
	}
	pj := filepath.Join(dir, "parts.json")
	b, _ := json.Marshal(done)
	os.WriteFile(pj, b, 0o644)
	aws("s3api", "complete-multipart-upload", "--bucket", "cli", "--key", "big/200MiB.bin", "--upload-id", created.UploadId,
		"--multipart-upload", "file://"+pj)
	var head struct {
		ContentLength int64
		ETag          string
	}
	if err := json.Unmarshal(aws("s3api", "head-object", "--bucket", "cli", "--key", "big/200MiB.bin", "--output", "json"), &head); err != nil {
		t.Fatal(err)
	}
	if head.ContentLength != 4*partSize || !strings.HasSuffix(head.ETag, `-4"`) {
		t.Fatalf("head-object: %+v", head)
	}
	back := filepath.Join(dir, "big-back.bin")
	aws("s3api", "get-object", "--bucket", "cli", "--key", "big/200MiB.bin", back)
	if fileSum(t, back) != fileSum(t, big) {
		t.Fatal("the 200 MiB multipart object read back differs")
	}
	rng := filepath.Join(dir, "range.bin")
	aws("s3api", "get-object", "--bucket", "cli", "--key", "big/200MiB.bin", "--range", fmt.Sprintf("bytes=%d-%d", partSize-5, 3*partSize+4), rng)
	whole, _ := os.ReadFile(big)
	got, _ := os.ReadFile(rng)
	mustEqual(t, "a range across three parts", got, whole[partSize-5:3*partSize+5])
}

// TestRclone copies, checks and syncs a tree of 500 files with rclone.
func TestRclone(t *testing.T) {
	if !*long {
		t.Skip("with -s3.long (.ci/run)")
	}
	rc := tool(t, "rclone")
	n := startNet(t, 4, 40)
	info := n.Info()
	env := append(clientEnv(t, info),
		"RCLONE_CONFIG_FLOE_TYPE=s3", "RCLONE_CONFIG_FLOE_PROVIDER=Other", "RCLONE_CONFIG_FLOE_ENV_AUTH=false",
		"RCLONE_CONFIG_FLOE_ACCESS_KEY_ID="+info.S3AccessKey, "RCLONE_CONFIG_FLOE_SECRET_ACCESS_KEY="+info.S3SecretKey,
		"RCLONE_CONFIG_FLOE_ENDPOINT="+info.S3, "RCLONE_CONFIG_FLOE_REGION=us-east-1", "RCLONE_CONFIG_FLOE_FORCE_PATH_STYLE=true")
	conf := filepath.Join(t.TempDir(), "rclone.conf")
	os.WriteFile(conf, nil, 0o600)
	rclone := func(args ...string) []byte {
		return run(t, env, rc, append([]string{"--config", conf, "--transfers", "8", "--checkers", "8", "--retries", "1", "--low-level-retries", "2"}, args...)...)
	}
	src := t.TempDir()
	r := rand.New(rand.NewPCG(5, 6))
	write := func(i int) {
		name := filepath.Join(src, fmt.Sprintf("d%d", i%7), fmt.Sprintf("e%d", i%13), fmt.Sprintf("file-%03d.dat", i))
		size := r.IntN(40 << 10)
		switch {
		case i%97 == 0:
			size = 0
		case i%50 == 0:
			size = 2<<20 + r.IntN(1<<20)
		}
		writeRandom(t, name, uint64(i)+r.Uint64()%1000, size)
	}
	for i := range 500 {
		write(i)
	}
	rclone("mkdir", "floe:tree")
	rclone("copy", src, "floe:tree/data")
	rclone("check", src, "floe:tree/data")
	back := t.TempDir()
	rclone("copy", "floe:tree/data", back)
	sameTree(t, src, back)

	// Change the source: delete, rewrite and add files; sync makes the bucket equal again.
	for i := 0; i < 500; i += 25 {
		os.Remove(filepath.Join(src, fmt.Sprintf("d%d", i%7), fmt.Sprintf("e%d", i%13), fmt.Sprintf("file-%03d.dat", i)))
	}
	for i := 3; i < 500; i += 25 {
		write(i)
	}
	for i := 500; i < 520; i++ {
		write(i)
	}
	rclone("sync", src, "floe:tree/data")
	rclone("check", src, "floe:tree/data")
	back2 := t.TempDir()
	rclone("sync", "floe:tree/data", back2)
	sameTree(t, src, back2)
	out := string(rclone("size", "floe:tree/data", "--json"))
	var size struct{ Count int }
	json.Unmarshal([]byte(out), &size)
	if size.Count != 500 {
		t.Fatalf("rclone size: %s", out)
	}
}

// sameTree fails unless two directory trees hold the same files with the same bytes.
func sameTree(t testing.TB, a, b string) {
	t.Helper()
	files := func(root string) map[string]string {
		m := map[string]string{}
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				t.Fatal(err)
			}
			if !d.IsDir() {
				rel, _ := filepath.Rel(root, p)
				m[rel] = fileSum(t, p)
			}
			return nil
		})
		return m
	}
	fa, fb := files(a), files(b)
	if len(fa) != len(fb) {
		t.Fatalf("%d files, %d read back", len(fa), len(fb))
	}
	for k, v := range fa {
		if fb[k] != v {
			t.Fatalf("%s differs after the round trip", k)
		}
	}
}

// BenchmarkS3VsDaemon stores and reads a 256 MiB object through the S3 gateway and the same
// bytes' size through the publisher/aggregator (PUT /v1/blobs, GET /v1/blobs/{id}) of the
// same devnet in the same iteration, and reports each one's throughput and the ratios
// (gateway time / daemon time; goal: at most 1.2), and the peak resident memory (VmHWM) of the
// gateway's and of the daemon's process.
func BenchmarkS3VsDaemon(b *testing.B) {
	nodes, shards := 4, 200 // the smallest network whose blobs hold 256 MiB
	if *long {
		nodes, shards = 10, 1000
	}
	n := startNet(b, nodes, shards, "--max-body-size", fmt.Sprint(300<<10))
	info := n.Info()
	c := sdk(info.S3, info.S3AccessKey, info.S3SecretKey)
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bench")}); err != nil {
		b.Fatal(err)
	}
	const size = 256 << 20
	var s3Put, s3Get, dPut, dGet time.Duration
	for i := 0; b.Loop(); i++ {
		viaDaemon := func() {
			data := randomBytes(uint64(100+2*i), size)
			start := time.Now()
			id := daemonPut(b, info, data)
			dPut += time.Since(start)
			start = time.Now()
			if got := daemonGet(b, info, id); got != size {
				b.Fatalf("daemon GET: %d bytes", got)
			}
			dGet += time.Since(start)
		}
		viaS3 := func() {
			data := randomBytes(uint64(101+2*i), size)
			key := fmt.Sprintf("/bench/obj-%d", i)
			start := time.Now()
			if code := s3Do(b, info, http.MethodPut, key, data); code != http.StatusOK {
				b.Fatalf("S3 PUT: %d", code)
			}
			s3Put += time.Since(start)
			start = time.Now()
			if code := s3Do(b, info, http.MethodGet, key, nil); code != http.StatusOK {
				b.Fatalf("S3 GET: %d", code)
			}
			s3Get += time.Since(start)
		}
		// Alternate which goes first, so that neither always follows the other's load (the
		// nodes' compactions, the Go collector).
		if i%2 == 0 {
			viaDaemon()
			viaS3()
		} else {
			viaS3()
			viaDaemon()
		}
	}
	mbps := func(d time.Duration) float64 { return float64(b.N) * size / 1e6 / d.Seconds() }
	b.ReportMetric(mbps(s3Put), "s3-put-MB/s")
	b.ReportMetric(mbps(dPut), "daemon-put-MB/s")
	b.ReportMetric(mbps(s3Get), "s3-get-MB/s")
	b.ReportMetric(mbps(dGet), "daemon-get-MB/s")
	b.ReportMetric(s3Put.Seconds()/dPut.Seconds(), "put-time-ratio")
	b.ReportMetric(s3Get.Seconds()/dGet.Seconds(), "get-time-ratio")
	b.ReportMetric(peakRSSMiB(b, info.S3Pid), "s3-peak-rss-MiB")
	b.ReportMetric(peakRSSMiB(b, info.DaemonPid), "daemon-peak-rss-MiB")
}

// peakRSSMiB returns the peak resident memory (VmHWM) of process pid, in MiB.
func peakRSSMiB(b *testing.B, pid int) float64 {
	b.Helper()
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(string(st)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb float64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%g kB", &kb); err != nil {
				b.Fatalf("/proc/%d/status: %q: %v", pid, line, err)
			}
			return kb / 1024
		}
	}
	b.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

func daemonPut(b *testing.B, info devnet.Info, data []byte) string {
	req, _ := http.NewRequest(http.MethodPut, info.Daemon+"/v1/blobs?epochs=1&deletable=true", bytes.NewReader(data))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("daemon PUT: %s %s", resp.Status, body)
	}
	var res struct {
		NewlyCreated *struct {
			BlobObject struct {
				BlobID string `json:"blobId"`
			} `json:"blobObject"`
		} `json:"newlyCreated"`
	}
	if err := json.Unmarshal(body, &res); err != nil || res.NewlyCreated == nil {
		b.Fatalf("daemon PUT: %v %s", err, body)
	}
	return res.NewlyCreated.BlobObject.BlobID
}

func daemonGet(b *testing.B, info devnet.Info, id string) int64 {
	resp, err := http.Get(info.Daemon + "/v1/blobs/" + id)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("daemon GET: %s %v", resp.Status, err)
	}
	return n
}

// s3Do sends a request signed with an unsigned payload (as a client over TLS would) and
// drains the answer.
func s3Do(b *testing.B, info devnet.Info, method, path string, body []byte) int {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, _ := http.NewRequest(method, info.S3+path, rd)
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: info.S3AccessKey, SecretAccessKey: info.S3SecretKey},
		req, "UNSIGNED-PAYLOAD", "s3", "us-east-1", time.Now()); err != nil {
		b.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	n, _ := io.Copy(io.Discard, resp.Body)
	if method == http.MethodGet && resp.StatusCode == http.StatusOK && n != 256<<20 {
		b.Fatalf("S3 GET: %d bytes", n)
	}
	return resp.StatusCode
}
