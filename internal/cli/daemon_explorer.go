package cli

import (
	"flag"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floelabs/floe/client"
	"github.com/floelabs/floe/internal/explorer"
)

// explorerFlags are the daemon's flags for the explorer page it serves at /explorer/.
type explorerFlags struct {
	off      *bool
	metrics  *string
	interval *time.Duration
}

func addExplorerFlags(fs *flag.FlagSet) explorerFlags {
	return explorerFlags{
		off: fs.Bool("no-explorer", false, "do not serve the network explorer at /explorer/ (GET / then answers 404)"),
		metrics: fs.String("explorer-metrics", "", "Prometheus endpoints of the storage nodes for the explorer, comma-separated name=URL "+
			"(name: the node's registered name), e.g. node-00=http://10.0.0.5:9184/metrics"),
		interval: fs.Duration("explorer-interval", 5*time.Second, "how often the explorer samples the network (it keeps 720 samples)"),
	}
}

// explorer builds the explorer for a daemon with client configuration cfg and metrics
// registry reg (nil with --no-explorer).
func (f explorerFlags) explorer(cfg *client.Config, reg *prometheus.Registry, log *slog.Logger) (*explorer.Explorer, error) {
	if *f.off {
		return nil, nil
	}
	targets, err := explorer.ParseTargets(*f.metrics)
	if err != nil {
		return nil, usagef("--explorer-metrics: %v", err)
	}
	x, err := explorer.New(explorer.Config{ControlPlaneURL: cfg.ControlPlaneURL, RootCAs: cfg.RootCAs, Targets: targets,
		Self: reg, Interval: *f.interval, Logger: log.With("component", "explorer")})
	if err != nil {
		return nil, usagef("%v", err)
	}
	return x, nil
}
