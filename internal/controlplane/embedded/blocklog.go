package embedded

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/internal/controlplane"
)

// block is one record of the log.
type block struct {
	Height  uint64            `json:"height"`
	TimeMs  int64             `json:"time_ms"`
	Txs     [][]byte          `json:"txs"`
	AppHash controlplane.Hash `json:"app_hash"`
	Events  []cpapi.Event     `json:"events"`
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maxRecord bounds one record (a full block of maximal transactions, base64-encoded).
const maxRecord = 1 << 30

type blockLog struct {
	f *os.File
}

// openBlockLog opens the log, calls apply for every complete record in order, truncates a torn
// tail, and positions the file for appends.
func openBlockLog(path string, apply func(*block) error) (*blockLog, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("embedded: %w", err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("embedded: %w", err)
	}
	size := info.Size()
	var off int64
	var hdr [8]byte
	for {
		_, err := f.ReadAt(hdr[:], off)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("embedded: reading log: %w", err)
		}
		n := binary.LittleEndian.Uint32(hdr[:4])
		sum := binary.LittleEndian.Uint32(hdr[4:])
		if n > maxRecord {
			break
		}
		payload := make([]byte, n)
		if _, err := f.ReadAt(payload, off+8); err != nil {
			break // torn tail
		}
		if crc32.Checksum(payload, castagnoli) != sum {
			if off+8+int64(n) < size {
				// Valid-looking data follows: this is not a torn append but corruption of a
				// record that was acknowledged. Refuse to drop it silently.
				f.Close()
				return nil, fmt.Errorf("%w: checksum mismatch in the record at offset %d of %d bytes", ErrCorrupt, off, size)
			}
			break // the last record was torn by a crash during its append
		}
		var b block
		if err := json.Unmarshal(payload, &b); err != nil {
			f.Close()
			return nil, fmt.Errorf("%w: record at %d: %w", ErrCorrupt, off, err)
		}
		if err := apply(&b); err != nil {
			f.Close()
			return nil, err
		}
		off += 8 + int64(n)
	}
	if size != off {
		// Only the last record can be torn: everything before it was fsync'd before the next
		// append started.
		if err := f.Truncate(off); err != nil {
			f.Close()
			return nil, fmt.Errorf("embedded: truncating torn tail: %w", err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, fmt.Errorf("embedded: %w", err)
		}
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("embedded: %w", err)
	}
	return &blockLog{f: f}, nil
}

// Append writes one record and fsyncs it.
func (l *blockLog) Append(b *block) error {
	payload, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("embedded: encoding block: %w", err)
	}
	rec := make([]byte, 8, 8+len(payload))
	binary.LittleEndian.PutUint32(rec[:4], uint32(len(payload)))
	binary.LittleEndian.PutUint32(rec[4:], crc32.Checksum(payload, castagnoli))
	rec = append(rec, payload...)
	if _, err := l.f.Write(rec); err != nil {
		return fmt.Errorf("embedded: appending block %d: %w", b.Height, err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("embedded: syncing block %d: %w", b.Height, err)
	}
	return nil
}

func (l *blockLog) Close() error {
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("embedded: %w", err)
	}
	return nil
}
