package embedded

import (
	"io"
	"log/slog"
	"testing"

	"github.com/floelabs/floe/internal/controlplane"
	"github.com/floelabs/floe/internal/controlplane/cpconformance"
	"github.com/floelabs/floe/internal/controlplane/cpserver"
)

// TestConformance runs the drivers' conformance suite (also run by the CometBFT driver).
func TestConformance(t *testing.T) {
	cpconformance.Run(t, func(t *testing.T, g *controlplane.Genesis) cpserver.Backend {
		c, err := Open(t.TempDir(), &Options{Genesis: g, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := c.Close(); err != nil {
				t.Error(err)
			}
		})
		return c
	})
}
