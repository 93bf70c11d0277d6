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
	return command{name: "devnet", summary: "run a whole local network (control plane, storage nodes, publisher/aggregator); devnet add-node | remove-node NAME change its committee", run: runDevnet}
}

// devnetDirHelp documents the default directory.
const devnetDirHelp = "network directory (default $XDG_DATA_HOME/floe/devnet, else ~/.local/share/floe/devnet); the same directory resumes the same network"

func runDevnet(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "add-node":
			return runDevnetAddNode(ctx, e, args[1:])
		case "remove-node":
			return runDevnetRemoveNode(ctx, e, args[1:])
		}
	}
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
			// Nodes added or removed by floe devnet add-node / remove-node.
			added, stopped, err := net.Refresh(ctx)
			if err != nil && ctx.Err() == nil {
				log.Warn("applying node additions and removals", "err", err)
			}
			if len(added) > 0 {
				log.Info("nodes added by floe devnet add-node; Ctrl-C stops them too", "names", added)
			}
			if len(stopped) > 0 {
				log.Info("stopped removed nodes: the committee no longer needs them", "names", stopped)
			}
			if len(names) > 0 {
				log.Info("adopted processes restarted by hand; Ctrl-C stops them too", "names", names)
			}
			if len(names) > 0 || len(added) > 0 {
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
		switch {
		case n.Stopped:
			fmt.Fprintf(w, "%s\t%s\t(removed: left at epoch %d, stopped)\n", n.Name, n.URL, n.LeaveEpoch)
		case n.LeaveEpoch != 0:
			fmt.Fprintf(w, "%s\t%s\t(pid %d, shards %s; removed: leaves at epoch %d)\n", n.Name, n.URL, n.Pid, shardRanges(n.Shards), n.LeaveEpoch)
		default:
			fmt.Fprintf(w, "%s\t%s\t(pid %d, shards %s)\n", n.Name, n.URL, n.Pid, shardRanges(n.Shards))
		}
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

// attachDevnet opens the devnet in --dir (or the default directory) that another floe devnet
// process runs.
func attachDevnet(ctx context.Context, e *env, dir string, verbose bool) (*devnet.Network, error) {
	if dir == "" {
		d, err := devnet.DefaultDir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelDebug
	}
	return devnet.Attach(ctx, dir, "", slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level})))
}

func runDevnetAddNode(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "devnet add-node")
	dir := fs.String("dir", "", devnetDirHelp)
	stakeStr := fs.String("stake", "1000000base", "stake of the new node, from its own account funded by the devnet's wallet: FLOE (1.5) or base units (250base); the default is a genesis node's")
	asJSON := fs.Bool("json", false, "print JSON")
	verbose := fs.Bool("v", false, "log at debug level")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	stake, err := parseTokens(*stakeStr)
	if err != nil || stake == 0 {
		return usagef("--stake: %v", errOr(err, "must be positive"))
	}
	net, err := attachDevnet(ctx, e, *dir, *verbose)
	if err != nil {
		return err
	}
	j, err := net.AddNode(ctx, stake)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, j)
	}
	fmt.Fprintf(e.stdout, "%s (node %s) runs at %s (pid %d), registered and staked %s from its own account.\n",
		j.Name, j.NodeID, j.URL, j.Pid, humanCost(j.Stake))
	fmt.Fprintf(e.stdout, "It joins the committee at epoch %d, which starts at %s at the earliest (in %s)",
		j.JoinEpoch, j.JoinsAt.Format(time.RFC3339), time.Until(j.JoinsAt).Round(time.Second))
	if !j.SelectedAt.IsZero() {
		fmt.Fprintf(e.stdout, "; that committee, with its shards, is selected at %s", j.SelectedAt.Format(time.RFC3339))
	}
	fmt.Fprintf(e.stdout, `.
When epoch %d starts, it pulls the shards it gains from their previous owners (POST /v1/migrate/sync_shard, or recovery
if an owner cannot serve them); its health shows them inTransfer until it holds them, and the change is done
(EpochChangeDone) once members holding a quorum of the shards have theirs.
Watch it:  floe node info --config %s --node %s
           curl -sk %s/v1/health    (shardSummary.ownedShardStatus.inTransfer)
The running floe devnet adopts the process (Ctrl-C stops it too); a restarted devnet starts it again.
`, j.JoinEpoch, net.Info().ClientConfig, j.Name, j.URL)
	return nil
}

func runDevnetRemoveNode(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "devnet remove-node")
	dir := fs.String("dir", "", devnetDirHelp)
	asJSON := fs.Bool("json", false, "print JSON")
	verbose := fs.Bool("v", false, "log at debug level")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usagef("usage: floe devnet remove-node [--dir DIR] NAME")
	}
	net, err := attachDevnet(ctx, e, *dir, *verbose)
	if err != nil {
		return err
	}
	l, err := net.RemoveNode(ctx, rest[0])
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, l)
	}
	fmt.Fprintf(e.stdout, "%s: withdrew its stake (%s).\n", l.Name, humanCost(l.Withdrawn))
	if l.StoppedNow {
		fmt.Fprintf(e.stdout, "It was in no committee: it is stopped now and will not be started again.\n")
		return nil
	}
	fmt.Fprintf(e.stdout, `It leaves the committee at epoch %d, which starts at %s at the earliest (in %s); its shards go to the
members of that epoch, who pull them from it (POST /v1/migrate/sync_shard). The running floe devnet stops it once the
change to epoch %d is done (EpochChangeDone) and it is in no selected committee; it is not started again.
Watch it:  floe node info --config %s --node %s
`, l.LeaveEpoch, l.LeavesAt.Format(time.RFC3339), time.Until(l.LeavesAt).Round(time.Second), l.LeaveEpoch, net.Info().ClientConfig, l.Name)
	return nil
}
