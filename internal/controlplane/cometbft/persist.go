package cometbft

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/internal/controlplane/snapfile"
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

func loadSnapshot(dir string) (*snapfile.Snapshot, error) {
	s, err := snapfile.Load(dir)
	if errors.Is(err, snapfile.ErrMalformed) {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if err != nil {
		return nil, fmt.Errorf("cometbft: %w", err)
	}
	return s, nil
}

// writeSnapshot syncs the event log, then writes the committed state; the caller holds a.mu.
func (a *App) writeSnapshot() error {
	if err := a.elog.Sync(); err != nil {
		return err
	}
	if err := snapfile.Write(a.dir, a.state, a.appHash); err != nil {
		return fmt.Errorf("cometbft: %w", err)
	}
	a.snapHeight = a.state.Height()
	return nil
}

// eventLog is events.log: one record per committed block that emitted events,
//
//	u32 LE payload length || u32 LE CRC-32C of the payload || payload (JSON array of events)
//
// appended without fsync at each commit and synced before every snapshot, so it always holds
// at least the events up to the last snapshot.
type eventLog struct {
	f *os.File
}

// openEventLog reads the log and cuts it after the first keep events (the events the
// snapshot's state has emitted); a torn or later tail is removed. It returns the events kept.
func openEventLog(path string, keep uint64) (*eventLog, []cpapi.Event, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("cometbft: %w", err)
	}
	var events []cpapi.Event
	var off int64
	var hdr [8]byte
	for uint64(len(events)) < keep {
		if _, err := f.ReadAt(hdr[:], off); err != nil {
			break // the end, or a torn header
		}
		n := binary.LittleEndian.Uint32(hdr[:4])
		payload := make([]byte, n)
		if _, err := f.ReadAt(payload, off+8); err != nil {
			break
		}
		if crc32.Checksum(payload, crcTable) != binary.LittleEndian.Uint32(hdr[4:]) {
			break
		}
		var evs []cpapi.Event
		if err := json.Unmarshal(payload, &evs); err != nil {
			break
		}
		if len(evs) == 0 || evs[0].Seq != uint64(len(events)) {
			f.Close()
			return nil, nil, fmt.Errorf("%w: event log record at offset %d does not follow", ErrCorrupt, off)
		}
		events = append(events, evs...)
		off += 8 + int64(n)
	}
	if uint64(len(events)) > keep {
		f.Close()
		return nil, nil, fmt.Errorf("%w: event log record straddles the snapshot", ErrCorrupt)
	}
	if err := f.Truncate(off); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("cometbft: %w", err)
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("cometbft: %w", err)
	}
	return &eventLog{f: f}, events, nil
}

// Append writes one block's events.
func (l *eventLog) Append(evs []cpapi.Event) error {
	payload, err := json.Marshal(evs)
	if err != nil {
		return fmt.Errorf("cometbft: %w", err)
	}
	rec := make([]byte, 8, 8+len(payload))
	binary.LittleEndian.PutUint32(rec[:4], uint32(len(payload)))
	binary.LittleEndian.PutUint32(rec[4:], crc32.Checksum(payload, crcTable))
	if _, err := l.f.Write(append(rec, payload...)); err != nil {
		return fmt.Errorf("cometbft: event log: %w", err)
	}
	return nil
}

// Sync makes the log durable.
func (l *eventLog) Sync() error {
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("cometbft: event log: %w", err)
	}
	return nil
}

// Close syncs and closes the log.
func (l *eventLog) Close() error {
	return errors.Join(l.Sync(), l.f.Close())
}
