package embedded

import (
	"errors"
	"fmt"

	"github.com/floelabs/floe/internal/controlplane/snapfile"
)

func loadSnapshot(dir string) (*snapfile.Snapshot, error) {
	s, err := snapfile.Load(dir)
	if errors.Is(err, snapfile.ErrMalformed) {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if err != nil {
		return nil, fmt.Errorf("embedded: %w", err)
	}
	return s, nil
}

// writeSnapshot syncs the event log, writes the current state, then drops the block log
// segments and the events the snapshot makes unnecessary; the caller holds c.mu.
func (c *Chain) writeSnapshot() error {
	if err := c.elog.Sync(); err != nil {
		return err
	}
	if err := snapfile.Write(c.dir, c.state, c.appHash); err != nil {
		return fmt.Errorf("embedded: %w", err)
	}
	c.snapHeight = c.state.Height()
	// Failures below leave more on disk than needed, nothing less: a restart redoes them.
	if err := c.blog.rotate(); err != nil {
		return err
	}
	if err := c.blog.dropBefore(c.snapHeight + 1); err != nil {
		return err
	}
	// Events up to the snapshot are not needed for a restart: keep the retention window.
	var before uint64
	if seq := c.state.EventSeq(); seq > c.opts.RetainEvents {
		before = seq - c.opts.RetainEvents
	}
	_, err := c.elog.Prune(before)
	return err
}
