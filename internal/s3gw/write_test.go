package s3gw

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"golang.org/x/sync/semaphore"

	"github.com/floelabs/floe/client"
)

// errAtEnd is what endChecked fails with at the end of its bytes.
var errAtEnd = errors.New("the check at the end of the body failed")

// endChecked gives its bytes, then fails where a reader that checks a digest at the end of a
// body (Content-MD5, a trailing checksum) fails when the digest does not match: with the last
// bytes (withLast, as a net/http body gives io.EOF with them) or on the read after them.
type endChecked struct {
	b        []byte
	withLast bool
}

func (e *endChecked) Read(p []byte) (int, error) {
	if len(e.b) == 0 {
		return 0, errAtEnd
	}
	n := copy(p, e.b)
	e.b = e.b[n:]
	if len(e.b) == 0 && e.withLast {
		return n, errAtEnd
	}
	return n, nil
}

// chunkGateway is a gateway with only what a chunkReader uses: chunks of chunkSize bytes,
// spilled to a temporary file above spillAt.
func chunkGateway(t *testing.T, chunkSize, spillAt int64) *Gateway {
	return &Gateway{cfg: Config{Client: client.Config{TempDir: t.TempDir()}}, mem: semaphore.NewWeighted(1 << 30),
		chunkSize: chunkSize, spillAt: spillAt}
}

// readChunks reads every chunk of a body of size bytes (-1: unknown) and returns them
// joined, or the first error.
func readChunks(g *Gateway, body io.Reader, size int64) ([]byte, error) {
	cr := g.newChunkReader(body, size)
	defer cr.release()
	var out bytes.Buffer
	for {
		ch, err := cr.next(context.Background())
		if err != nil {
			return nil, err
		}
		if ch == nil {
			return out.Bytes(), nil
		}
		if ch.file != nil {
			if _, err := io.Copy(&out, io.NewSectionReader(ch.file, 0, ch.size)); err != nil {
				return nil, err
			}
		} else {
			out.Write(ch.data)
		}
	}
}

// TestChunkReaderReachesEnd: a chunkReader reads every body to its end, whether its length
// is known or not, so that a check made there (the S3 library's against Content-MD5) fails
// the write: in memory, spilled, in several chunks, empty; failing with the last bytes or
// after them. A body that checks out reads back whole.
func TestChunkReaderReachesEnd(t *testing.T) {
	g := chunkGateway(t, 1000, 300)
	for _, n := range []int{0, 1, 299, 300, 301, 999, 1000, 1001, 2500, 3000} {
		data := bytes.Repeat([]byte{byte(n)}, n)
		for _, known := range []bool{true, false} {
			size := int64(-1)
			if known {
				size = int64(n)
			}
			for _, withLast := range []bool{true, false} {
				name := fmt.Sprintf("%d bytes, length known %v, failing with the last bytes %v", n, known, withLast)
				if _, err := readChunks(g, &endChecked{b: data, withLast: withLast}, size); !errors.Is(err, errAtEnd) {
					t.Errorf("%s: %v, want the end's error", name, err)
				}
			}
			got, err := readChunks(g, bytes.NewReader(data), size)
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("%d bytes, length known %v: %d bytes, %v", n, known, len(got), err)
			}
		}
	}
	// More bytes than the length: refused.
	if _, err := readChunks(g, bytes.NewReader(make([]byte, 1200)), 1100); !errors.Is(err, errLongBody) {
		t.Errorf("a body longer than its length: %v", err)
	}
	if held := g.mem.TryAcquire(1 << 30); !held {
		t.Error("chunks still hold memory")
	}
}
