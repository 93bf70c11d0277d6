// Package snapfile stores a control-plane driver's state snapshot: snapshot.json in the
// driver's directory, the state after a committed block with its height and app hash,
// replaced atomically and durably. The embedded and the CometBFT drivers both use it.
package snapfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/floelabs/floe/internal/controlplane"
	"github.com/floelabs/floe/internal/durablefile"
)

// Name is the snapshot's file name in a driver's directory.
const Name = "snapshot.json"

// ErrMalformed: snapshot.json exists but does not decode.
var ErrMalformed = errors.New("snapfile: malformed snapshot")

// Snapshot is the content of snapshot.json.
type Snapshot struct {
	Height  uint64            `json:"height"`
	AppHash controlplane.Hash `json:"app_hash"`
	State   json.RawMessage   `json:"state"`
}

// Load reads dir's snapshot; it returns nil and no error when there is none.
func Load(dir string) (*Snapshot, error) {
	b, err := os.ReadFile(filepath.Join(dir, Name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("snapfile: %w", err)
	}
	return Decode(b)
}

// Decode parses the bytes of a snapshot file.
func Decode(b []byte) (*Snapshot, error) {
	var s Snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return &s, nil
}

// Encode returns the bytes of a snapshot file of st's current state and appHash.
func Encode(st *controlplane.State, appHash controlplane.Hash) ([]byte, error) {
	state, err := st.Snapshot()
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(Snapshot{Height: st.Height(), AppHash: appHash, State: state})
	if err != nil {
		return nil, fmt.Errorf("snapfile: %w", err)
	}
	return b, nil
}

// Write replaces dir's snapshot with st's current state and appHash, durably.
func Write(dir string, st *controlplane.State, appHash controlplane.Hash) error {
	b, err := Encode(st, appHash)
	if err != nil {
		return err
	}
	return WriteBytes(dir, b)
}

// WriteBytes replaces dir's snapshot with the encoded snapshot b, durably.
func WriteBytes(dir string, b []byte) error {
	return durablefile.WriteFile(filepath.Join(dir, Name), b, 0o644)
}
