//go:build floetest

package cli

import (
	"flag"

	"github.com/floelabs/floe/internal/storagenode"
	"github.com/floelabs/floe/internal/storagenode/byzantine"
)

// testNodeFlags holds the test-only flags of `floe node run`, built only with the build tag
// floetest (the chaos tests' child binary): --byzantine makes the node lie on purpose.
type testNodeFlags struct {
	byzantine string
}

func (t *testNodeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&t.byzantine, "byzantine", "", "TEST ONLY (floetest build): make the node lie on purpose: "+
		"corrupt-slivers, wrong-metadata, bad-confirmations, drop-uploads, stall-slivers or drop-stored=P (fault-injection tests), or discard-slivers (verify uploads, then discard them: client memory benchmarks)")
}

func (t *testNodeFlags) configure(cfg *storagenode.Config) error {
	mode, err := byzantine.Parse(t.byzantine)
	if err != nil {
		return usagef("--byzantine: %v", err)
	}
	byzantine.Configure(mode, cfg)
	return nil
}

func (t *testNodeFlags) apply(n *storagenode.Node, cfg *storagenode.Config) error {
	mode, err := byzantine.Parse(t.byzantine)
	if err != nil {
		return usagef("--byzantine: %v", err)
	}
	return byzantine.Apply(n, mode, cfg)
}
