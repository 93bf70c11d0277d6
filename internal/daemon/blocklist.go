package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/floelabs/floe/blob"
)

// DefaultBlocklistRefresh is how often a blocklist file is read again (Walrus's 30 s).
const DefaultBlocklistRefresh = 30 * time.Second

// maxBlocklistFile bounds the blocklist file read.
const maxBlocklistFile = 64 << 20

// Blocklist is a set of blob IDs the daemon neither serves nor stores (451 FORBIDDEN_BLOB), as
// Walrus's --blocklist: a YAML list of blob IDs in a file, read again periodically (Run), so an
// operator edits it without a restart. A missing or empty file blocks nothing.
type Blocklist struct {
	path string
	log  *slog.Logger

	mu  sync.RWMutex
	ids map[blob.ID]struct{}
}

// LoadBlocklist reads the blocklist file at path. A file that exists but does not parse is an
// error.
func LoadBlocklist(path string, log *slog.Logger) (*Blocklist, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &Blocklist{path: path, log: log, ids: map[blob.ID]struct{}{}}
	if err := b.Reload(); err != nil {
		return nil, err
	}
	return b, nil
}

// Reload reads the file again; on an error the previous list stays.
func (b *Blocklist) Reload() error {
	f, err := os.Open(b.path)
	if os.IsNotExist(err) {
		b.set(map[blob.ID]struct{}{})
		return nil
	}
	if err != nil {
		return fmt.Errorf("daemon: blocklist: %w", err)
	}
	defer f.Close()
	var raw []string
	dec := yaml.NewDecoder(&limitedReader{r: f, n: maxBlocklistFile})
	if err := dec.Decode(&raw); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("daemon: blocklist %s: want a YAML list of blob IDs: %w", b.path, err)
	}
	ids := make(map[blob.ID]struct{}, len(raw))
	for _, s := range raw {
		id, err := blob.ParseID(s)
		if err != nil {
			return fmt.Errorf("daemon: blocklist %s: %q: %w", b.path, s, err)
		}
		ids[id] = struct{}{}
	}
	b.set(ids)
	return nil
}

func (b *Blocklist) set(ids map[blob.ID]struct{}) {
	b.mu.Lock()
	b.ids = ids
	b.mu.Unlock()
}

// Blocked reports whether id is on the list.
func (b *Blocklist) Blocked(id blob.ID) bool {
	if b == nil {
		return false
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	_, ok := b.ids[id]
	return ok
}

// Len returns the number of blocked IDs.
func (b *Blocklist) Len() int {
	if b == nil {
		return 0
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.ids)
}

// Run reads the file again every interval until ctx ends.
func (b *Blocklist) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := b.Reload(); err != nil {
				b.log.Error("refreshing the blocklist", "err", err)
			}
		}
	}
}

// limitedReader fails a read past n bytes (instead of truncating silently).
type limitedReader struct {
	r interface{ Read([]byte) (int, error) }
	n int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, fmt.Errorf("larger than %d bytes", maxBlocklistFile)
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// blobIDer computes the blob ID of data, so that a store of a blocked blob is refused before
// anything is paid for. FromClient's Blobs implements it.
type blobIDer interface {
	BlobIDOf(ctx context.Context, data []byte) (blob.ID, error)
}

// checkBlocked refuses a blocked blob ID.
func (s *Server) checkBlocked(id blob.ID) error {
	if s.cfg.Blocklist.Blocked(id) {
		return fmt.Errorf("%w: %s", ErrBlobBlocked, id)
	}
	return nil
}

// checkBlockedData refuses to store a blob whose ID is blocked (its ID is computed only when
// the list is not empty).
func (s *Server) checkBlockedData(ctx context.Context, data []byte) error {
	if s.cfg.Blocklist.Len() == 0 {
		return nil
	}
	ider, ok := s.cfg.Blobs.(blobIDer)
	if !ok {
		return fmt.Errorf("daemon: the blob store cannot compute blob IDs for the blocklist")
	}
	id, err := ider.BlobIDOf(ctx, data)
	if err != nil {
		return err
	}
	return s.checkBlocked(id)
}
