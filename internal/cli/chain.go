package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/floelabs/floe/internal/controlplane"
	"github.com/floelabs/floe/internal/controlplane/cpserver"
	"github.com/floelabs/floe/internal/controlplane/embedded"
	"github.com/floelabs/floe/internal/crypto"
)

// devnetFaucetAmount is the faucet's balance in a devnet genesis: 10^9 tokens of 10^9 units.
const devnetFaucetAmount = 1_000_000_000_000_000_000

func chainCommand() command {
	return command{name: "chain", summary: "run the control plane (embedded, or a CometBFT validator with --home), write a genesis or a validator network, join one (run|genesis|init|join)", run: runChain}
}

func runChain(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usagef("usage: floe chain run|genesis|init|join [flags]")
	}
	switch args[0] {
	case "run":
		return chainRun(ctx, e, args[1:])
	case "genesis":
		return chainGenesis(e, args[1:])
	case "init":
		return chainInit(e, args[1:])
	case "join":
		return chainJoin(e, args[1:])
	}
	return usagef("unknown chain command %q (run, genesis, init, join)", args[0])
}

// chainReady is printed (one JSON line with --json) once the API accepts requests.
type chainReady struct {
	URL       string         `json:"url"`
	ChainID   string         `json:"chain_id"`
	Height    uint64         `json:"height"`
	Epoch     uint32         `json:"epoch"`
	Dir       string         `json:"dir"`
	FaucetKey string         `json:"faucet_key,omitempty"`
	Faucet    crypto.Address `json:"faucet,omitzero"`
}

func chainRun(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "chain run")
	dir := fs.String("dir", "floe-chain", "data directory (block log, genesis)")
	genesisPath := fs.String("genesis", "", "genesis file for a new directory (default: devnet defaults with a faucet key written to DIR/faucet.json)")
	listen := fs.String("listen", "127.0.0.1:7070", "API listen address")
	epochDuration := fs.Duration("epoch-duration", 0, "epoch duration for a devnet genesis (default 1h)")
	asJSON := fs.Bool("json", false, "print the ready line as JSON")
	verbose := fs.Bool("v", false, "log at debug level")
	var vf validatorFlags
	fs.StringVar(&vf.home, "home", "", "run as a CometBFT validator from this home directory (written by floe chain init) instead of the embedded driver")
	fs.Uint64Var(&vf.snapshotInterval, "snapshot-interval", 500, "validator: blocks between state snapshots (bounds replay on restart)")
	fs.Uint64Var(&vf.retainBlocks, "retain-blocks", 100000, "validator: recent blocks kept for peers that catch up; older ones are pruned")
	fs.StringVar(&vf.cometLevel, "comet-log-level", "warn", "validator: lowest level of CometBFT's own log records shown (debug, info, warn, error)")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
	if vf.home != "" {
		return chainRunValidator(ctx, e, vf, *listen, *asJSON, log)
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	var g *controlplane.Genesis
	ready := chainReady{Dir: *dir}
	_, statErr := os.Stat(filepath.Join(*dir, "genesis.json"))
	switch {
	case *genesisPath != "":
		var err error
		if g, err = readGenesis(*genesisPath); err != nil {
			return err
		}
	case errors.Is(statErr, os.ErrNotExist):
		var err error
		if g, _, err = faucetGenesis(*dir, *epochDuration); err != nil {
			return err
		}
	}
	if k, err := readKeyFile(filepath.Join(*dir, "faucet.json")); err == nil {
		ready.FaucetKey, ready.Faucet = filepath.Join(*dir, "faucet.json"), k.Address()
	}
	chain, err := embedded.Open(*dir, &embedded.Options{Genesis: g, Logger: log})
	if err != nil {
		return err
	}
	defer chain.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: cpserver.New(chain, log), ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	chain.View(func(s *controlplane.State, _ controlplane.Hash) {
		ready.ChainID, ready.Height, ready.Epoch = s.Params().ChainID, s.Height(), s.Epoch()
	})
	ready.URL = "http://" + ln.Addr().String()
	if *asJSON {
		b, _ := json.Marshal(ready)
		fmt.Fprintln(e.stdout, string(b))
	} else {
		fmt.Fprintf(e.stdout, "control plane %s listening on %s (height %d, epoch %d, data in %s)\n", ready.ChainID, ready.URL, ready.Height, ready.Epoch, ready.Dir)
		if ready.FaucetKey != "" {
			fmt.Fprintf(e.stdout, "faucet %s, key in %s\n", ready.Faucet, ready.FaucetKey)
		}
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
	return chain.Close()
}

func readGenesis(path string) (*controlplane.Genesis, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var g controlplane.Genesis
	if err := json.Unmarshal(b, &g); err != nil {
		return nil, fmt.Errorf("genesis %s: %w", path, err)
	}
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("genesis %s: %w", path, err)
	}
	return &g, nil
}

func chainGenesis(e *env, args []string) error {
	fs := newFlagSet(e, "chain genesis")
	def := controlplane.DefaultParams()
	out := fs.String("out", "", "file to write (default: standard output)")
	chainID := fs.String("chain-id", def.ChainID, "chain ID")
	shards := fs.Int("shards", def.NShards, "number of shards")
	epochDuration := fs.Duration("epoch-duration", time.Duration(def.EpochDurationMs)*time.Millisecond, "epoch duration")
	maxAhead := fs.Uint("max-epochs-ahead", uint(def.MaxEpochsAhead), "maximum epochs storage can be bought ahead")
	minCommittee := fs.Int("min-committee", def.MinCommitteeSize, "minimum committee size")
	maxCommittee := fs.Int("max-committee", def.MaxCommitteeSize, "maximum committee size")
	minStake := fs.Uint64("min-stake", def.MinStake, "minimum stake of a committee member")
	faucet := fs.String("faucet", "", "address funded at genesis")
	faucetAmount := fs.Uint64("faucet-amount", devnetFaucetAmount, "faucet balance in base units")
	nodesPath := fs.String("nodes", "", "JSON file with an array of genesis storage nodes")
	start := fs.String("time", "", "genesis time, RFC 3339 (default now)")
	fs.Bool("json", true, "the output is JSON (always)")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	g := controlplane.Genesis{Params: controlplane.Params{ChainID: *chainID, NShards: *shards,
		EpochDurationMs: epochDuration.Milliseconds(), MaxEpochsAhead: uint32(*maxAhead),
		MinCommitteeSize: *minCommittee, MaxCommitteeSize: min(*maxCommittee, *shards), MinStake: *minStake},
		GenesisTime: time.Now().UnixMilli(), Balances: []controlplane.GenesisBalance{}}
	if *start != "" {
		t, err := time.Parse(time.RFC3339, *start)
		if err != nil {
			return usagef("--time: %v", err)
		}
		g.GenesisTime = t.UnixMilli()
	}
	if *faucet != "" {
		a, err := crypto.ParseAddress(*faucet)
		if err != nil {
			return usagef("--faucet: %v", err)
		}
		g.Balances = append(g.Balances, controlplane.GenesisBalance{Address: a, Amount: *faucetAmount})
	}
	if *nodesPath != "" {
		b, err := os.ReadFile(*nodesPath)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &g.Nodes); err != nil {
			return fmt.Errorf("nodes %s: %w", *nodesPath, err)
		}
	}
	if err := g.Validate(); err != nil {
		return err
	}
	if _, _, err := controlplane.NewState(&g); err != nil {
		return err
	}
	b, err := json.MarshalIndent(&g, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if *out == "" {
		_, err = e.stdout.Write(b)
		return err
	}
	return os.WriteFile(*out, b, 0o644)
}

// faucetGenesis returns a new genesis with default parameters (epochs of epochDuration if
// positive) that funds the faucet account of dir/faucet.json, creating the key if needed.
func faucetGenesis(dir string, epochDuration time.Duration) (*controlplane.Genesis, string, error) {
	keyPath := filepath.Join(dir, "faucet.json")
	k, err := readKeyFile(keyPath)
	if errors.Is(err, os.ErrNotExist) {
		if k, err = crypto.GenerateAccountKey(nil); err != nil {
			return nil, "", err
		}
		err = writeKeyFile(keyPath, k)
	}
	if err != nil {
		return nil, "", err
	}
	p := controlplane.DefaultParams()
	if epochDuration > 0 {
		p.EpochDurationMs = epochDuration.Milliseconds()
	}
	return &controlplane.Genesis{Params: p, GenesisTime: time.Now().UnixMilli(),
		Balances: []controlplane.GenesisBalance{{Address: k.Address(), Amount: devnetFaucetAmount}}}, keyPath, nil
}
