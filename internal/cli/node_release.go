//go:build !floetest

package cli

import (
	"flag"

	"github.com/floelabs/floe/internal/storagenode"
)

// testNodeFlags holds the test-only flags of `floe node run`: none in the release binary
// (see node_floetest.go).
type testNodeFlags struct{}

func (testNodeFlags) register(*flag.FlagSet)                             {}
func (testNodeFlags) configure(*storagenode.Config) error                { return nil }
func (testNodeFlags) apply(*storagenode.Node, *storagenode.Config) error { return nil }
