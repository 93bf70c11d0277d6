// Package e2e tests the S3 gateway end to end: a devnet (control plane, storage nodes,
// daemon and `floe s3`, each its own process on 127.0.0.1) driven by S3 clients: the AWS SDK
// for Go in the default tier; the AWS CLI and rclone, a 200 MiB multipart upload, a tree of
// 500 files and the 256 MiB throughput benchmark with -s3.long (run by .ci/run).
package e2e

import (
	"bytes"
	"crypto/sha256"
	"flag"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/floelabs/floe/internal/devnet"
	"github.com/floelabs/floe/internal/devnet/devnettest"
)

var long = flag.Bool("s3.long", false, "S3 tests with the AWS CLI and rclone (200 MiB multipart, 500 files) and the 256 MiB benchmark")

// floeBin is the floe binary built once for the package's tests.
var floeBin string

func TestMain(m *testing.M) { devnettest.Main(m, &floeBin) }

// startNet starts a devnet with its S3 gateway; it stops when the test ends.
func startNet(t testing.TB, nodes, shards int, daemonArgs ...string) *devnet.Network {
	return startNetEpochs(t, nodes, shards, 0, nil, daemonArgs...)
}

// startNetEpochs is startNet with epochs of the given duration (0: the default hour) and
// s3Args added to the gateway's command line.
func startNetEpochs(t testing.TB, nodes, shards int, epoch time.Duration, s3Args []string, daemonArgs ...string) *devnet.Network {
	t.Helper()
	if testing.Short() {
		t.Skip("devnet tests are not short")
	}
	n := devnettest.Start(t, devnet.Config{Dir: t.TempDir(), Nodes: nodes, Shards: shards, Addr: devnettest.FreeAddr(t), S3Addr: devnettest.FreeAddr(t),
		EpochDuration: epoch, Binary: floeBin, Logger: slog.New(slog.DiscardHandler), DaemonArgs: daemonArgs, S3Args: s3Args})
	return n
}

// sdk returns an AWS SDK S3 client of endpoint signing with the key; it talks only to
// 127.0.0.1 (explicit endpoint, static credentials: no metadata service is asked).
func sdk(endpoint, id, secret string) *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(id, secret, ""),
		HTTPClient:   &http.Client{Timeout: 10 * time.Minute},
		// Checksums only when an operation requires one, as S3-compatible servers expect.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 2))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n - n%8; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

func sum(b []byte) [32]byte { return sha256.Sum256(b) }

func mustEqual(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: got %d bytes (sha256 %x), want %d bytes (sha256 %x)", what, len(got), sum(got), len(want), sum(want))
	}
}
