package cli

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/floelabs/floe/internal/devnet"
	"github.com/floelabs/floe/internal/portal"
)

func devnetCommand() command {
	return command{name: "devnet", summary: "run a whole local network (control plane, storage nodes, publisher/aggregator)", run: runDevnet}
}

// devnetDirHelp documents the default directory.
const devnetDirHelp = "network directory (default $XDG_DATA_HOME/floe/devnet, else ~/.local/share/floe/devnet); the same directory resumes the same network"

func runDevnet(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "devnet")
	dir := fs.String("dir", "", devnetDirHelp)
	nodes := fs.Int("nodes", 10, "storage nodes of a new network (each its own process)")
	shards := fs.Int("shards", 1000, "shards of a new network")
	addr := fs.String("addr", "127.0.0.1:31415", "publisher/aggregator listen address")
	s3Addr := fs.String("s3-addr", "127.0.0.1:31416", "S3 gateway listen address (\"off\": no gateway)")
	portalAddr := fs.String("portal-addr", portal.DefaultAddr, "site portal listen address (\"off\": none)")
	epochDuration := fs.Duration("epoch-duration", 0, "epoch duration of a new network, e.g. 30s for short epochs (default 1h)")
	validators := fs.Int("validators", 0, "run the control plane of a new network as this many CometBFT validator processes (default: the embedded driver)")
	asJSON := fs.Bool("json", false, "print devnet.json to standard output once the network is ready")
	verbose := fs.Bool("v", false, "log at debug level")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if *portalAddr == "off" {
		*portalAddr = ""
	}
	if *dir == "" {
		d, err := devnet.DefaultDir()
		if err != nil {
			return err
		}
		*dir = d
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
	net, err := devnet.Open(ctx, devnet.Config{Dir: *dir, Nodes: *nodes, Shards: *shards, Addr: *addr, S3Addr: *s3Addr, Validators: *validators,
		EpochDuration: *epochDuration, PortalAddr: *portalAddr, Logger: log})
	if err != nil {
		return err
	}
	if err := net.Start(ctx); err != nil {
		return err
	}
	info := net.Info()
	if *asJSON {
		if err := printJSON(e.stdout, info); err != nil {
			net.Stop()
			return err
		}
	} else {
		printDevnet(e, info)
	}
	// A child that exits (crashed, or killed to try Floe's fault tolerance) is reported and
	// the rest keeps running: its argv in devnet.json restarts it, and the devnet adopts the
	// process so restarted (devnet.json gets its pid, Ctrl-C stops it). Ctrl-C stops everything.
	var runErr error
	watch, unwatch := context.WithCancel(ctx)
	exited := net.Exited(watch)
	adopt := time.NewTicker(2 * time.Second)
	defer adopt.Stop()
	for done := false; !done; {
		select {
		case <-ctx.Done():
			log.Info("stopping the devnet")
			done = true
		case name := <-exited:
			log.Warn("a devnet process exited; the others keep running (its argv in devnet.json restarts it)",
				"name", name, "logs", filepath.Join(info.Dir, "logs"))
			unwatch()
			watch, unwatch = context.WithCancel(ctx)
			exited = net.Exited(watch)
		case <-adopt.C:
			names, err := net.AdoptRestarted()
			if err != nil {
				log.Warn("recording adopted processes", "err", err)
			}
			if len(names) > 0 {
				log.Info("adopted processes restarted by hand; Ctrl-C stops them too", "names", names)
				unwatch()
				watch, unwatch = context.WithCancel(ctx)
				exited = net.Exited(watch)
			}
		}
	}
	unwatch()
	if err := net.Stop(); err != nil && runErr == nil {
		runErr = err
	}
	if runErr == nil {
		fmt.Fprintln(e.stderr, "devnet stopped; start it again with the same --dir to resume it")
	}
	return runErr
}

func printDevnet(e *env, info devnet.Info) {
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "publisher + aggregator\t%s\t(pid %d, metrics %s)\n", info.Daemon, info.DaemonPid, info.DaemonMetrics)
	fmt.Fprintf(w, "explorer\t%s\t(the network in a browser)\n", info.Explorer)
	if info.S3 != "" {
		fmt.Fprintf(w, "S3 gateway\t%s\t(pid %d, access key %s, secret %s)\n", info.S3, info.S3Pid, info.S3AccessKey, info.S3SecretKey)
	}
	if len(info.Validators) == 0 {
		fmt.Fprintf(w, "control plane\t%s\t(pid %d)\n", info.ControlPlane, info.ChainPid)
	}
	for _, v := range info.Validators {
		fmt.Fprintf(w, "%s\t%s\t(pid %d, CometBFT validator)\n", v.Name, v.URL, v.Pid)
	}
	for _, n := range info.Nodes {
		fmt.Fprintf(w, "%s\t%s\t(pid %d, shards %s)\n", n.Name, n.URL, n.Pid, shardRanges(n.Shards))
	}
	if info.Portal != "" {
		fmt.Fprintf(w, "site portal\t%s\t(pid %d; a site is at http://<site>.%s/, floe site publish DIR)\n", info.Portal, info.PortalPid, strings.TrimPrefix(info.Portal, "http://"))
	}
	w.Flush()
	fmt.Fprintf(e.stdout, `
%d shards, epochs of %s; data, logs and devnet.json in %s
client config: %s (the CLI finds it without flags)

Try:
  echo "hello floe" > hello.txt
  curl -X PUT "%s/v1/blobs?epochs=1" --upload-file hello.txt
  curl "%s/v1/blobs/BLOB_ID"
  floe store hello.txt --epochs 1 && floe read BLOB_ID
`, info.NShards, info.EpochDuration, info.Dir, info.ClientConfig, info.Daemon, info.Daemon)
	if info.S3 != "" {
		fmt.Fprintf(e.stdout, `  export AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_DEFAULT_REGION=us-east-1
  aws --endpoint-url %s s3 mb s3://my-bucket
  aws --endpoint-url %s s3 cp hello.txt s3://my-bucket/
`, info.S3AccessKey, info.S3SecretKey, info.S3, info.S3)
	}
	if info.Portal != "" {
		fmt.Fprintln(e.stdout, "  floe site publish DIR      # a static website; prints its URL on the portal")
	}
	fmt.Fprintln(e.stdout, "\nCtrl-C stops everything; run floe devnet again to resume.")
}
