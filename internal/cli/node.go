package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/internal/controlplane/cpclient"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/nodestore"
	"github.com/floelabs/floe/internal/nodetls"
	"github.com/floelabs/floe/internal/protocol"
	"github.com/floelabs/floe/internal/storagenode"
	"github.com/floelabs/floe/internal/storagenode/engine"
)

func nodeCommand() command {
	return command{name: "node", summary: "storage node: init | keygen | register | run | info | set-votes | set-commission | set-validator", run: runNode}
}

func runNode(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usagef("usage: floe node keygen|register|run|info|set-votes|set-commission|set-validator [flags]")
	}
	switch args[0] {
	case "init":
		return runNodeInit(e, args[1:])
	case "keygen":
		return runNodeKeygen(e, args[1:])
	case "register":
		return runNodeRegister(ctx, e, args[1:])
	case "run":
		return runNodeRun(ctx, e, args[1:])
	case "info":
		return runNodeInfo(ctx, e, args[1:])
	case "set-votes":
		return runNodeSetVotes(ctx, e, args[1:])
	case "set-commission":
		return runNodeSetCommission(ctx, e, args[1:])
	case "set-validator":
		return runNodeSetValidator(ctx, e, args[1:])
	default:
		return usagef("floe node: unknown subcommand %q (init, keygen, register, run, info, set-votes, set-commission, set-validator)", args[0])
	}
}

// Key file names inside a key directory.
const (
	protocolKeyFile = "protocol.key" // hex BLS12-381 secret key
	networkKeyFile  = "network.key"  // PEM PKCS #8 P-256 key
	accountKeyFile  = "account.key"  // JSON ed25519 account key (as floe wallet writes it)
)

// nodeKeys is what keygen prints.
type nodeKeys struct {
	ProtocolPublicKey crypto.BLSPublicKey `json:"protocol_public_key"`
	NetworkPublicKey  string              `json:"network_public_key"`
	Address           crypto.Address      `json:"address"`
	Dir               string              `json:"dir"`
}

func runNodeKeygen(e *env, args []string) error {
	fs := newFlagSet(e, "node keygen")
	dir := fs.String("dir", ".", "directory to write protocol.key, network.key and account.key to (existing files are kept)")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	for _, f := range []string{protocolKeyFile, networkKeyFile, accountKeyFile} {
		if _, err := os.Stat(filepath.Join(*dir, f)); err == nil {
			return fmt.Errorf("%s already exists; refusing to overwrite keys", filepath.Join(*dir, f))
		}
	}
	bls, err := crypto.GenerateBLSKey(rand.Reader)
	if err != nil {
		return err
	}
	netKey, err := nodetls.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	acct, err := crypto.GenerateAccountKey(rand.Reader)
	if err != nil {
		return err
	}
	pemKey, err := nodetls.MarshalPrivateKey(netKey)
	if err != nil {
		return err
	}
	if err := writeSecret(filepath.Join(*dir, protocolKeyFile), []byte(hex.EncodeToString(bls.Bytes())+"\n")); err != nil {
		return err
	}
	if err := writeSecret(filepath.Join(*dir, networkKeyFile), pemKey); err != nil {
		return err
	}
	if err := writeKeyFile(filepath.Join(*dir, accountKeyFile), acct); err != nil {
		return err
	}
	pub, err := nodetls.PublicKeyBytes(&netKey.PublicKey)
	if err != nil {
		return err
	}
	return printJSON(e.stdout, nodeKeys{ProtocolPublicKey: bls.PublicKey(), NetworkPublicKey: hex.EncodeToString(pub), Address: acct.Address(), Dir: *dir})
}

func writeSecret(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("writing key: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("writing key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("writing key: %w", err)
	}
	return f.Close()
}

func readProtocolKey(path string) (*crypto.BLSSecretKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading protocol key: %w", err)
	}
	raw, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("protocol key %s: %w", path, err)
	}
	return crypto.ParseBLSSecretKey(raw)
}

// nodeConfig is the node's configuration file (JSON). Flags override the file, and the
// environment (FLOE_NODE_<FIELD IN UPPER CASE>, e.g. FLOE_NODE_LISTEN) overrides flags.
type nodeConfig struct {
	Name              string `json:"name"`
	Listen            string `json:"listen"`
	PublicAddress     string `json:"public_address"`
	MetricsListen     string `json:"metrics_listen"`
	DataDir           string `json:"data_dir"`
	ControlPlane      string `json:"control_plane"`
	KeyDir            string `json:"key_dir"`
	ProtocolKey       string `json:"protocol_key"`
	NetworkKey        string `json:"network_key"`
	AccountKey        string `json:"account_key"`
	LogLevel          string `json:"log_level"`
	MaxPendingMiB     int64  `json:"max_pending_mib"`
	MaxWaitMillis     int64  `json:"max_wait_for_registration_ms"`
	ScrubIntervalSecs int64  `json:"scrub_interval_secs"`
	RecoveryDelayMs   int64  `json:"recovery_delay_ms"`
	GCIntervalSecs    int64  `json:"gc_interval_secs"`
	Commission        uint   `json:"commission_bps"`
	StoragePrice      uint64 `json:"storage_price"`
	WritePrice        uint64 `json:"write_price"`
	CapacityGiB       uint64 `json:"capacity_gib"`
	Pprof             bool   `json:"pprof"`
	// GoMaxProcs, if positive, is the most threads that run the node's Go code at once
	// (runtime.GOMAXPROCS); 0 keeps Go's default, one per CPU the process may use. floe devnet
	// sets it to CPUs / nodes (at least 1) because its nodes share one machine.
	GoMaxProcs int `json:"gomaxprocs"`
	// test holds the test-only flags (node_floetest.go; none in the release binary).
	test testNodeFlags
}

func defaultNodeConfig() nodeConfig {
	return nodeConfig{Name: "floe-node", Listen: "127.0.0.1:9185", MetricsListen: "127.0.0.1:9184", DataDir: "floe-node-data",
		ControlPlane: defaultControlPlaneURL, KeyDir: ".", LogLevel: "info", MaxPendingMiB: 256, MaxWaitMillis: 10000,
		ScrubIntervalSecs: 3600, RecoveryDelayMs: 30000, GCIntervalSecs: 600, Commission: 1000, StoragePrice: 10, WritePrice: 5, CapacityGiB: 1024}
}

// loadNodeConfig reads --config (if any), then applies flags that were set, then the
// environment.
func loadNodeConfig(e *env, name string, args []string) (nodeConfig, error) {
	cfg := defaultNodeConfig()
	fs := newFlagSet(e, name)
	path := fs.String("config", "", "configuration file (JSON)")
	var flagCfg nodeConfig
	fs.StringVar(&flagCfg.Name, "name", "", "node name")
	fs.StringVar(&flagCfg.Listen, "listen", "", "HTTPS listen address (default "+cfg.Listen+")")
	fs.StringVar(&flagCfg.PublicAddress, "public-address", "", "host:port registered on the control plane (default: the listen address)")
	fs.StringVar(&flagCfg.MetricsListen, "metrics-listen", "", "Prometheus listen address, \"off\" to disable (default "+cfg.MetricsListen+")")
	fs.StringVar(&flagCfg.DataDir, "data-dir", "", "data directory (default "+cfg.DataDir+")")
	fs.StringVar(&flagCfg.ControlPlane, "control-plane", "", "control plane API URL (default "+cfg.ControlPlane+")")
	fs.StringVar(&flagCfg.KeyDir, "key-dir", "", "directory of the keys written by floe node keygen")
	fs.StringVar(&flagCfg.LogLevel, "log-level", "", "debug, info, warn or error")
	fs.BoolVar(&flagCfg.Pprof, "pprof", false, "also serve Go's profiles (/debug/pprof/) on the metrics address")
	fs.IntVar(&flagCfg.GoMaxProcs, "gomaxprocs", 0, "most threads running the node's Go code at once (0: one per CPU)")
	flagCfg.test.register(fs)
	if _, err := parseFlags(fs, args); err != nil {
		return cfg, err
	}
	if *path != "" {
		b, err := os.ReadFile(*path)
		if err != nil {
			return cfg, fmt.Errorf("config: %w", err)
		}
		if cfg, err = decodeNodeConfig(b, *path); err != nil {
			return cfg, err
		}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	over := func(flagName string, dst *string, v string) {
		if set[flagName] {
			*dst = v
		}
	}
	over("name", &cfg.Name, flagCfg.Name)
	over("listen", &cfg.Listen, flagCfg.Listen)
	over("public-address", &cfg.PublicAddress, flagCfg.PublicAddress)
	over("metrics-listen", &cfg.MetricsListen, flagCfg.MetricsListen)
	over("data-dir", &cfg.DataDir, flagCfg.DataDir)
	over("control-plane", &cfg.ControlPlane, flagCfg.ControlPlane)
	over("key-dir", &cfg.KeyDir, flagCfg.KeyDir)
	over("log-level", &cfg.LogLevel, flagCfg.LogLevel)
	if set["pprof"] {
		cfg.Pprof = flagCfg.Pprof
	}
	if set["gomaxprocs"] {
		cfg.GoMaxProcs = flagCfg.GoMaxProcs
	}
	cfg.test = flagCfg.test
	for envName, dst := range map[string]*string{"NAME": &cfg.Name, "LISTEN": &cfg.Listen, "PUBLIC_ADDRESS": &cfg.PublicAddress,
		"METRICS_LISTEN": &cfg.MetricsListen, "DATA_DIR": &cfg.DataDir, "CONTROL_PLANE": &cfg.ControlPlane, "KEY_DIR": &cfg.KeyDir,
		"LOG_LEVEL": &cfg.LogLevel, "PROTOCOL_KEY": &cfg.ProtocolKey, "NETWORK_KEY": &cfg.NetworkKey, "ACCOUNT_KEY": &cfg.AccountKey} {
		if v, ok := os.LookupEnv("FLOE_NODE_" + envName); ok {
			*dst = v
		}
	}
	if v, ok := os.LookupEnv("FLOE_NODE_PPROF"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return cfg, usagef("FLOE_NODE_PPROF: %v", err)
		}
		cfg.Pprof = b
	}
	if v, ok := os.LookupEnv("FLOE_NODE_GOMAXPROCS"); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return cfg, usagef("FLOE_NODE_GOMAXPROCS: %v", err)
		}
		cfg.GoMaxProcs = n
	}
	if v, ok := os.LookupEnv("FLOE_NODE_MAX_PENDING_MIB"); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return cfg, usagef("FLOE_NODE_MAX_PENDING_MIB: %v", err)
		}
		cfg.MaxPendingMiB = n
	}
	if cfg.ProtocolKey == "" {
		cfg.ProtocolKey = filepath.Join(cfg.KeyDir, protocolKeyFile)
	}
	if cfg.NetworkKey == "" {
		cfg.NetworkKey = filepath.Join(cfg.KeyDir, networkKeyFile)
	}
	if cfg.AccountKey == "" {
		cfg.AccountKey = filepath.Join(cfg.KeyDir, accountKeyFile)
	}
	if cfg.PublicAddress == "" {
		cfg.PublicAddress = cfg.Listen
	}
	if _, _, err := net.SplitHostPort(cfg.PublicAddress); err != nil {
		return cfg, usagef("public address %q: %v", cfg.PublicAddress, err)
	}
	if cfg.MaxPendingMiB < 0 || cfg.MaxWaitMillis < 0 || cfg.ScrubIntervalSecs < 0 || cfg.RecoveryDelayMs < 0 || cfg.GCIntervalSecs < 0 || cfg.GoMaxProcs < 0 || cfg.Commission > 10000 {
		return cfg, usagef("config: negative limit or commission above 10000 bps")
	}
	return cfg, nil
}

func runNodeRegister(ctx context.Context, e *env, args []string) error {
	// --stake AMOUNT (FLOE, or base units with "base") stakes from the node's account with the
	// node once it is registered.
	args, stakeStr, err := takeFlag(args, "stake")
	if err != nil {
		return err
	}
	var stake uint64
	if stakeStr != "" {
		if stake, err = parseTokens(stakeStr); err != nil || stake == 0 {
			return usagef("--stake: %v", errOr(err, "must be positive"))
		}
	}
	cfg, err := loadNodeConfig(e, "node register", args)
	if err != nil {
		return err
	}
	bls, err := readProtocolKey(cfg.ProtocolKey)
	if err != nil {
		return err
	}
	pemKey, err := os.ReadFile(cfg.NetworkKey)
	if err != nil {
		return fmt.Errorf("reading network key: %w", err)
	}
	netKey, err := nodetls.ParsePrivateKey(pemKey)
	if err != nil {
		return err
	}
	acct, err := readKeyFile(cfg.AccountKey)
	if err != nil {
		return err
	}
	netPub, err := nodetls.PublicKeyBytes(&netKey.PublicKey)
	if err != nil {
		return err
	}
	c := cpclient.New(cfg.ControlPlane, nil)
	info, err := c.Info(ctx)
	if err != nil {
		return err
	}
	op := cpapi.Op{RegisterNode: &cpapi.RegisterNodeOp{
		Name: cfg.Name, NetworkAddress: cfg.PublicAddress, NetworkPublicKey: netPub, BLSPublicKey: cpapi.BLSPublicKey(bls.PublicKey()),
		ProofOfPossession: cpapi.BLSSignature(protocol.SignProofOfPossession(bls, acct.Address(), info.Epoch)),
		Commission:        uint16(cfg.Commission), StoragePrice: cfg.StoragePrice, WritePrice: cfg.WritePrice, Capacity: cfg.CapacityGiB << 30,
	}}
	out, err := c.Execute(ctx, info.Params.ChainID, acct, op)
	if err != nil {
		return fmt.Errorf("register node: %w", err)
	}
	res := map[string]any{"height": out.Height, "tx": out.Hash}
	if len(out.Created) > 0 {
		res["node_id"] = out.Created[0]
		if stake > 0 {
			sr, err := stakeNewNode(ctx, c, info.Params.ChainID, cfg, out.Created[0], stake)
			if err != nil {
				printJSON(e.stdout, res)
				return err
			}
			for k, v := range sr {
				res[k] = v
			}
		}
	}
	return printJSON(e.stdout, res)
}

func runNodeRun(ctx context.Context, e *env, args []string) error {
	cfg, err := loadNodeConfig(e, "node run", args)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return usagef("log level %q: %v", cfg.LogLevel, err)
	}
	log := slog.New(slog.NewJSONHandler(e.stderr, &slog.HandlerOptions{Level: level})).With("node", cfg.Name)
	if cfg.GoMaxProcs > 0 {
		// Before the engine sizes its worker limits from it.
		prev := runtime.GOMAXPROCS(cfg.GoMaxProcs)
		defer runtime.GOMAXPROCS(prev)
	}
	bls, err := readProtocolKey(cfg.ProtocolKey)
	if err != nil {
		return err
	}
	pemKey, err := os.ReadFile(cfg.NetworkKey)
	if err != nil {
		return fmt.Errorf("reading network key: %w", err)
	}
	netKey, err := nodetls.ParsePrivateKey(pemKey)
	if err != nil {
		return err
	}
	host, _, _ := net.SplitHostPort(cfg.PublicAddress)
	cert, err := nodetls.SelfSigned(netKey, []string{host})
	if err != nil {
		return err
	}
	store, err := nodestore.Open(cfg.DataDir, &nodestore.Options{Logger: log.With("component", "nodestore")})
	if err != nil {
		return err
	}
	defer store.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "floe_node_disk_bytes", Help: "Disk space the node's store occupies (Pebble's tables, logs and manifests)."},
			func() float64 { u, _ := store.DiskUsage(); return float64(u) }))
	metricsAddr := cfg.MetricsListen
	if metricsAddr == "off" {
		metricsAddr = ""
	}
	ncfg := storagenode.Config{ListenAddr: cfg.Listen, MetricsAddr: metricsAddr, Pprof: cfg.Pprof, Certificate: cert, Options: engine.Options{
		Store:        store,
		ControlPlane: storagenode.Remote{Client: cpclient.New(cfg.ControlPlane, storagenode.ControlPlaneHTTPClient())},
		ProtocolKey:  bls, Logger: log, Registry: reg,
		MaxPendingBytes:        max(cfg.MaxPendingMiB<<20, 1),
		MaxWaitForRegistration: time.Duration(max(cfg.MaxWaitMillis, 1)) * time.Millisecond,
		ScrubInterval:          time.Duration(cfg.ScrubIntervalSecs) * time.Second,
		GCInterval:             time.Duration(cfg.GCIntervalSecs) * time.Second,
		RecoveryDelay:          time.Duration(max(cfg.RecoveryDelayMs, 1)) * time.Millisecond,
	}}
	if err := cfg.test.configure(&ncfg); err != nil {
		return err
	}
	node, err := storagenode.New(ncfg)
	if err != nil {
		return err
	}
	if err := cfg.test.apply(node, &ncfg); err != nil {
		return err
	}
	log.Info("storage node listening", "addr", node.Addr(), "metrics", node.MetricsAddr(), "public_key", node.PublicKey().String())
	fmt.Fprintf(e.stdout, "listening %s\n", node.Addr())
	if err := node.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
