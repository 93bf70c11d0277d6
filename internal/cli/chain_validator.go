package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/floelabs/floe/internal/controlplane"
	"github.com/floelabs/floe/internal/controlplane/cometbft"
	"github.com/floelabs/floe/internal/controlplane/cpserver"
)

// chainInitResult is what floe chain init prints with --json.
type chainInitResult struct {
	Dir        string               `json:"dir"`
	ChainID    string               `json:"chain_id"`
	FaucetKey  string               `json:"faucet_key,omitempty"`
	Validators []cometbft.Validator `json:"validators"`
	Timeouts   map[string]string    `json:"timeouts"`
}

// chainInit writes a CometBFT validator network: DIR/validator-i for each validator.
func chainInit(e *env, args []string) error {
	fs := newFlagSet(e, "chain init")
	n := fs.Int("validators", 4, "number of validators")
	dir := fs.String("dir", "floe-validators", "directory receiving validator-0 ... validator-N-1 (and faucet.json for a devnet genesis)")
	genesisPath := fs.String("genesis", "", "Floe genesis file (default: devnet defaults with a faucet key written to DIR/faucet.json)")
	epochDuration := fs.Duration("epoch-duration", 0, "epoch duration for a devnet genesis (default 1h)")
	hosts := fs.String("hosts", "127.0.0.1", "comma-separated addresses the validators reach each other at: one for all, or one per validator")
	listenHost := fs.String("listen-host", "", "address the P2P ports bind (default: each validator's host)")
	basePort := fs.Int("base-port", 26656, "validator i listens for peers on base-port+i; 0 picks free loopback ports")
	p2pPorts := fs.String("p2p-ports", "", "comma-separated P2P ports, one per validator (overrides --base-port)")
	wan := fs.Bool("wan", false, "use consensus timeouts for validators spread over a WAN (default: LAN timeouts)")
	tPropose := fs.Duration("timeout-propose", 0, "override the propose timeout")
	tVote := fs.Duration("timeout-vote", 0, "override the prevote/precommit timeouts")
	tCommit := fs.Duration("timeout-commit", 0, "override the commit timeout (the pause between blocks)")
	asJSON := fs.Bool("json", false, "print the validators as JSON")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if *n < 1 {
		return usagef("--validators must be at least 1")
	}
	ports, err := parsePorts(*p2pPorts, *n)
	if err != nil {
		return err
	}
	t := cometbft.LANTimeouts()
	if *wan {
		t = cometbft.WANTimeouts()
	}
	if *tPropose > 0 {
		t.Propose = *tPropose
	}
	if *tVote > 0 {
		t.Vote = *tVote
	}
	if *tCommit > 0 {
		t.Commit = *tCommit
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	res := chainInitResult{Dir: *dir, Timeouts: map[string]string{"propose": t.Propose.String(), "vote": t.Vote.String(), "commit": t.Commit.String()}}
	var g *controlplane.Genesis
	if *genesisPath != "" {
		if g, err = readGenesis(*genesisPath); err != nil {
			return err
		}
	} else {
		if g, res.FaucetKey, err = faucetGenesis(*dir, *epochDuration); err != nil {
			return err
		}
	}
	vals, err := cometbft.InitNetwork(cometbft.NetworkConfig{Dir: *dir, Validators: *n, Genesis: g,
		Hosts: strings.Split(*hosts, ","), ListenHost: *listenHost, BasePort: *basePort, P2PPorts: ports, Timeouts: &t})
	if err != nil {
		return err
	}
	res.ChainID, res.Validators = g.Params.ChainID, vals
	if *asJSON {
		return printJSON(e.stdout, res)
	}
	fmt.Fprintf(e.stdout, "chain %s: %d validators in %s (timeouts: propose %s, vote %s, commit %s)\n", res.ChainID, *n, *dir, t.Propose, t.Vote, t.Commit)
	for _, v := range vals {
		fmt.Fprintf(e.stdout, "  %s  p2p %s  node %s\n", v.Home, v.P2PAddr, v.NodeID)
	}
	fmt.Fprintf(e.stdout, "start each with: floe chain run --home DIR/validator-i --listen ADDR\n")
	return nil
}

// validatorFlags are chain run's flags for validator mode.
type validatorFlags struct {
	home             string
	snapshotInterval uint64
	retainBlocks     uint64
	cometLevel       string
}

// chainRunValidator runs a CometBFT validator with the Floe application in-process and
// serves the control-plane API from it.
func chainRunValidator(ctx context.Context, e *env, vf validatorFlags, listen string, asJSON bool, log *slog.Logger) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(vf.cometLevel)); err != nil {
		return usagef("--comet-log-level: %v", err)
	}
	node, err := cometbft.Open(vf.home, &cometbft.Options{Logger: log, CometLevel: &level,
		SnapshotInterval: vf.snapshotInterval, RetainBlocks: vf.retainBlocks})
	if err != nil {
		return err
	}
	defer node.Close()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: cpserver.New(node, log), ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	ready := chainReady{Dir: vf.home, URL: "http://" + ln.Addr().String()}
	node.View(func(s *controlplane.State, _ controlplane.Hash) {
		ready.ChainID, ready.Height, ready.Epoch = s.Params().ChainID, s.Height(), s.Epoch()
	})
	faucetPath := filepath.Join(filepath.Dir(filepath.Clean(vf.home)), "faucet.json")
	if k, err := readKeyFile(faucetPath); err == nil {
		ready.FaucetKey, ready.Faucet = faucetPath, k.Address()
	}
	if asJSON {
		b, _ := json.Marshal(ready)
		fmt.Fprintln(e.stdout, string(b))
	} else {
		fmt.Fprintf(e.stdout, "validator %s of %s listening on %s (height %d, epoch %d, home %s)\n", node.NodeID(), ready.ChainID, ready.URL, ready.Height, ready.Epoch, ready.Dir)
	}
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		return err
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		log.Warn("shutting down the API", "err", err)
	}
	return node.Close()
}

// parsePorts parses --p2p-ports: empty, or exactly n distinct ports in 1-65535.
func parsePorts(list string, n int) ([]int, error) {
	if list == "" {
		return nil, nil
	}
	f := strings.Split(list, ",")
	if len(f) != n {
		return nil, usagef("--p2p-ports gives %d ports for %d validators", len(f), n)
	}
	ports := make([]int, n)
	seen := make(map[int]bool, n)
	for i, s := range f {
		p, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || p < 1 || p > 65535 {
			return nil, usagef("--p2p-ports: %q is not a port", s)
		}
		if seen[p] {
			return nil, usagef("--p2p-ports: port %d given twice", p)
		}
		seen[p] = true
		ports[i] = p
	}
	return ports, nil
}
