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

// writeSnapshot writes the current state; the caller holds c.mu.
func (c *Chain) writeSnapshot() error {
	if err := snapfile.Write(c.dir, c.state, c.appHash); err != nil {
		return fmt.Errorf("embedded: %w", err)
	}
	c.snapHeight = c.state.Height()
	return nil
}
