package embedded

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/floelabs/floe/internal/controlplane"
	"github.com/floelabs/floe/internal/durablefile"
)

// snapshot is the content of snapshot.json.
type snapshot struct {
	Height  uint64            `json:"height"`
	AppHash controlplane.Hash `json:"app_hash"`
	State   json.RawMessage   `json:"state"`
}

func loadSnapshot(dir string) (*snapshot, error) {
	b, err := os.ReadFile(filepath.Join(dir, "snapshot.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("embedded: %w", err)
	}
	var s snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%w: snapshot: %w", ErrCorrupt, err)
	}
	return &s, nil
}

// writeSnapshot writes the current state; the caller holds c.mu.
func (c *Chain) writeSnapshot() error {
	st, err := c.state.Snapshot()
	if err != nil {
		return err
	}
	b, err := json.Marshal(snapshot{Height: c.state.Height(), AppHash: c.appHash, State: st})
	if err != nil {
		return fmt.Errorf("embedded: %w", err)
	}
	if err := durablefile.WriteFile(filepath.Join(c.dir, "snapshot.json"), b, 0o644); err != nil {
		return err
	}
	c.snapHeight = c.state.Height()
	return nil
}
