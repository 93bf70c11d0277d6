package devnet

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/floelabs/floe/internal/controlplane"
	"github.com/floelabs/floe/internal/controlplane/cpclient"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/durablefile"
	"github.com/floelabs/floe/internal/freeaddr"
	"github.com/floelabs/floe/internal/nodetls"
	"github.com/floelabs/floe/internal/protocol"
)

// Config describes a devnet.
type Config struct {
	// Dir holds everything: the genesis, the control plane's data, every node's keys and data,
	// logs, devnet.json and client_config.yaml. Starting again with the same Dir resumes the
	// same network.
	Dir string
	// Nodes and Shards size a new network (default 10 and 1000); a resumed network keeps its own.
	Nodes, Shards int
	// Addr is the daemon's (publisher and aggregator) listen address (default 127.0.0.1:31415).
	Addr string
	// EpochDuration of a new network (default 1h).
	EpochDuration time.Duration
	// Validators, if positive, runs the control plane of a new network as that many CometBFT
	// validator processes instead of the embedded single-process driver; a resumed network
	// keeps its own choice.
	Validators int
	// Binary is the floe executable run for every child (default os.Executable()).
	Binary string
	// DaemonArgs are added to the daemon's command line.
	DaemonArgs []string
	// S3Addr is the S3 gateway's listen address (empty or "off": no gateway; floe devnet's
	// default is 127.0.0.1:31416).
	S3Addr string
	// S3Args are added to the S3 gateway's command line.
	S3Args []string
	// PortalAddr, if set, runs the site portal on this address (`floe devnet` sets
	// portal.DefaultAddr unless --portal-addr off); sites are served at
	// http://<site>.localhost:PORT/. Empty: no portal.
	PortalAddr string
	// Params, if set, adjusts a new network's control-plane parameters (tests turn storage
	// challenges off, for instance).
	Params func(*controlplane.Params)
	// NodeOptions are added to every node's node.json (numeric options of floe node run's
	// configuration, e.g. "recovery_delay_ms"), for tests that tune the nodes.
	NodeOptions map[string]int64
	// ReadyTimeout bounds the wait for each process to answer (default 2 minutes).
	ReadyTimeout time.Duration
	Logger       *slog.Logger
}

// Files inside Dir.
const (
	SetupFile        = "setup.json"
	GenesisFile      = "genesis.json"
	InfoFile         = "devnet.json"
	ClientConfigFile = "client_config.yaml"
	daemonConfigFile = "publisher_config.yaml"
	walletFile       = "wallet.key"
	publisherWallet  = "publisher.key"
	s3Wallet         = "s3.key"
	s3ConfigFile     = "s3_client_config.yaml"
	// S3KeysFile holds the S3 gateway's access key (floe s3 --keys).
	S3KeysFile = "s3_keys.yaml"
)

// nodeStake is each genesis node's stake; every node gets the same share of shards.
const nodeStake = 1_000_000

// walletFunds is each devnet wallet's genesis balance: 10^9 tokens of 10^9 units.
const walletFunds = 1_000_000_000_000_000_000

// setup is what a devnet fixes when it is created (DIR/setup.json).
type setup struct {
	Nodes     int      `json:"nodes"`
	Shards    int      `json:"shards"`
	ChainAddr string   `json:"chain_addr"`
	NodeAddrs []string `json:"node_addrs"`
	// NodeMetricsAddrs are the nodes' Prometheus listeners (the explorer scrapes them); a
	// network made before they existed gets them when it resumes.
	NodeMetricsAddrs []string `json:"node_metrics_addrs,omitempty"`
	MetricsAddr      string   `json:"daemon_metrics_addr"`
	EpochMs          int64    `json:"epoch_duration_ms"`
	Validators       int      `json:"validators,omitempty"`
	CreatedUnixS     int64    `json:"created_unix_s"`
	// Added are the nodes added since genesis (floe devnet add-node), Removed the nodes whose
	// stake was withdrawn (floe devnet remove-node): members.go.
	Added   []addedNode   `json:"added_nodes,omitempty"`
	Removed []removedNode `json:"removed_nodes,omitempty"`
}

// Info is DIR/devnet.json.
type Info struct {
	Daemon string `json:"daemon"`
	// Explorer is the network explorer's page on the daemon.
	Explorer      string     `json:"explorer"`
	DaemonMetrics string     `json:"daemonMetrics"`
	ControlPlane  string     `json:"controlPlane"`
	ClientConfig  string     `json:"clientConfig"`
	Wallet        string     `json:"wallet"`
	Dir           string     `json:"dir"`
	NShards       int        `json:"nShards"`
	EpochDuration string     `json:"epochDuration"`
	DaemonPid     int        `json:"daemonPid"`
	ChainPid      int        `json:"controlPlanePid"`
	ChainArgv     []string   `json:"controlPlaneArgv"`
	DaemonArgv    []string   `json:"daemonArgv"`
	Nodes         []NodeInfo `json:"nodes"`
	// Validators lists the CometBFT validator processes when the control plane runs
	// replicated (then ControlPlane is validator 0's API and the controlPlane pid/argv are
	// empty).
	Validators []ValidatorInfo `json:"validators,omitempty"`
	// S3 is the S3 gateway's endpoint (empty when it is off), with its access key.
	S3          string   `json:"s3,omitempty"`
	S3AccessKey string   `json:"s3AccessKeyId,omitempty"`
	S3SecretKey string   `json:"s3SecretAccessKey,omitempty"`
	S3Pid       int      `json:"s3Pid,omitempty"`
	S3Argv      []string `json:"s3Argv,omitempty"`
	// Portal is the site portal's base URL (empty when it is off): a site is served at
	// http://<site>.localhost:PORT/.
	Portal     string   `json:"portal,omitempty"`
	PortalPid  int      `json:"portalPid,omitempty"`
	PortalArgv []string `json:"portalArgv,omitempty"`
}

// NodeInfo is one storage node in devnet.json; Argv restarts it exactly.
type NodeInfo struct {
	Name    string `json:"name"`
	URL     string `json:"url"`
	Pid     int    `json:"pid"`
	DataDir string `json:"dataDir"`
	KeyDir  string `json:"keyDir"`
	LogPath string `json:"logPath"`
	// Metrics is the node's Prometheus endpoint.
	Metrics string   `json:"metrics,omitempty"`
	Shards  []uint16 `json:"shards"`
	Argv    []string `json:"argv"`
	// JoinEpoch is set for a node added by floe devnet add-node: the first epoch its stake
	// counts in. LeaveEpoch is set for a node removed by floe devnet remove-node: the first
	// epoch its stake no longer counts in; Stopped once the devnet stopped it (after the
	// change to that epoch was done), and it is not started again.
	JoinEpoch  uint32 `json:"joinEpoch,omitempty"`
	LeaveEpoch uint32 `json:"leaveEpoch,omitempty"`
	Stopped    bool   `json:"stopped,omitempty"`
}

// Network is a running (or stopped) devnet.
type Network struct {
	// mu guards nodes, info and setup's membership once the network runs (nodes join and
	// leave while it does).
	mu     sync.Mutex
	cfg    Config
	log    *slog.Logger
	setup  setup
	chain  *Process      // the embedded control plane, or nil
	vset   *ValidatorSet // the CometBFT validators, or nil
	nodes  []*Process
	daemon *Process
	s3     *Process // the S3 gateway, or nil
	portal *Process // the site portal, or nil
	info   Info
	// retired are the removed nodes the devnet stopped: their exit is not reported.
	retired map[*Process]bool
	// attached: another process runs this network (Attach); devnet.json's pids are its.
	attached bool
}

// DefaultDir is where `floe devnet` keeps its network without --dir: $XDG_DATA_HOME/floe/devnet,
// else ~/.local/share/floe/devnet.
func DefaultDir() (string, error) {
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "floe", "devnet"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("devnet: no home directory for the default --dir: %w", err)
	}
	return filepath.Join(home, ".local", "share", "floe", "devnet"), nil
}

// Open prepares the devnet in cfg.Dir, creating its genesis and keys if it is new. Call Start
// to run it.
func Open(ctx context.Context, cfg Config) (*Network, error) {
	if cfg.Dir == "" {
		return nil, errors.New("devnet: no directory")
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, err
	}
	cfg.Dir = dir
	if cfg.Nodes == 0 {
		cfg.Nodes = 10
	}
	if cfg.Shards == 0 {
		cfg.Shards = 1000
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:31415"
	}
	if cfg.EpochDuration == 0 {
		cfg.EpochDuration = time.Hour
	}
	if cfg.ReadyTimeout == 0 {
		cfg.ReadyTimeout = 2 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Binary == "" {
		if cfg.Binary, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("devnet: finding the floe binary: %w", err)
		}
	}
	if cfg.Validators < 0 {
		return nil, fmt.Errorf("devnet: %d validators", cfg.Validators)
	}
	if cfg.Nodes < 1 || cfg.Shards < cfg.Nodes {
		return nil, fmt.Errorf("devnet: %d nodes for %d shards: need at least one shard per node", cfg.Nodes, cfg.Shards)
	}
	n := &Network{cfg: cfg, log: cfg.Logger, retired: map[*Process]bool{}}
	b, err := os.ReadFile(filepath.Join(dir, SetupFile))
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &n.setup); err != nil {
			return nil, fmt.Errorf("devnet: %s: %w", filepath.Join(dir, SetupFile), err)
		}
		n.log.Info("resuming devnet", "dir", dir, "nodes", n.setup.Nodes, "shards", n.setup.Shards)
		if err := n.addMetricsAddrs(); err != nil {
			return nil, err
		}
	case errors.Is(err, os.ErrNotExist):
		if err := n.create(ctx); err != nil {
			return nil, err
		}
	default:
		return nil, err
	}
	if err := n.build(); err != nil {
		return nil, err
	}
	return n, nil
}

func (n *Network) path(elem ...string) string {
	return filepath.Join(append([]string{n.cfg.Dir}, elem...)...)
}

func (n *Network) nodeDir(i int) string { return n.path("nodes", nodeName(i)) }

func nodeName(i int) string { return fmt.Sprintf("node-%02d", i) }

// runFloe runs a short floe command and returns its standard output.
func (n *Network) runFloe(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, n.cfg.Binary, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("devnet: floe %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// create writes a new network: node keys (floe node keygen), wallets (floe wallet new), the
// genesis with the nodes registered and staked, and setup.json last (its presence marks a
// complete set-up).
func (n *Network) create(ctx context.Context) error {
	cfg := n.cfg
	if entries, err := os.ReadDir(cfg.Dir); err == nil && len(entries) > 0 {
		// A half-made set-up (interrupted) is started over; anything else is not ours to touch.
		if _, err := os.Stat(filepath.Join(cfg.Dir, GenesisFile)); err != nil && !isPartialSetup(entries) {
			return fmt.Errorf("devnet: %s is not empty and holds no devnet", cfg.Dir)
		}
		for _, e := range entries {
			if err := os.RemoveAll(filepath.Join(cfg.Dir, e.Name())); err != nil {
				return err
			}
		}
	}
	n.log.Info("creating devnet", "dir", cfg.Dir, "nodes", cfg.Nodes, "shards", cfg.Shards)
	if err := os.MkdirAll(n.path("logs"), 0o755); err != nil {
		return err
	}
	// Every address the devnet's processes listen on comes from one reservation: ports
	// reserved apart could repeat, and a validator holding a node's port would keep that node
	// from ever starting.
	addrs, err := freeaddr.ReserveExcept(2*cfg.Nodes+2+2*cfg.Validators, []string{cfg.Addr, cfg.S3Addr, cfg.PortalAddr})
	if err != nil {
		return err
	}
	validatorAddrs := addrs[2*cfg.Nodes+2:]
	n.setup = setup{Nodes: cfg.Nodes, Shards: cfg.Shards, ChainAddr: addrs[0], MetricsAddr: addrs[1], NodeAddrs: addrs[2 : 2+cfg.Nodes],
		NodeMetricsAddrs: addrs[2+cfg.Nodes : 2+2*cfg.Nodes],
		EpochMs:          cfg.EpochDuration.Milliseconds(), CreatedUnixS: time.Now().Unix(), Validators: cfg.Validators}
	p := controlplane.DefaultParams()
	p.NShards = cfg.Shards
	p.EpochDurationMs = n.setup.EpochMs
	p.MaxCommitteeSize = min(p.MaxCommitteeSize, cfg.Shards)
	if cfg.Params != nil {
		cfg.Params(&p)
	}
	g := controlplane.Genesis{Params: p, GenesisTime: time.Now().UnixMilli()}
	for _, w := range []string{walletFile, publisherWallet, s3Wallet} {
		out, err := n.runFloe(ctx, "wallet", "new", "--out", n.path(w), "--json")
		if err != nil {
			return err
		}
		var res struct {
			Address crypto.Address `json:"address"`
		}
		if err := json.Unmarshal(out, &res); err != nil {
			return fmt.Errorf("devnet: floe wallet new: %w", err)
		}
		g.Balances = append(g.Balances, controlplane.GenesisBalance{Address: res.Address, Amount: walletFunds})
	}
	nodes := make([]controlplane.GenesisNode, cfg.Nodes)
	eg, ectx := errgroup.WithContext(ctx)
	eg.SetLimit(4)
	for i := range cfg.Nodes {
		eg.Go(func() error {
			gn, err := n.nodeKeys(ectx, i)
			nodes[i] = gn
			return err
		})
	}
	if err := eg.Wait(); err != nil {
		return err
	}
	g.Nodes = nodes
	if err := g.Validate(); err != nil {
		return fmt.Errorf("devnet: genesis: %w", err)
	}
	gb, err := json.MarshalIndent(&g, "", "  ")
	if err != nil {
		return err
	}
	if err := durablefile.WriteFile(n.path(GenesisFile), append(gb, '\n'), 0o644); err != nil {
		return err
	}
	if cfg.Validators > 0 {
		if err := InitValidators(ctx, cfg.Binary, cfg.Dir, n.path(GenesisFile), cfg.Validators, validatorAddrs); err != nil {
			return err
		}
	}
	sb, err := json.MarshalIndent(&n.setup, "", "  ")
	if err != nil {
		return err
	}
	return durablefile.WriteFile(n.path(SetupFile), append(sb, '\n'), 0o644)
}

// addMetricsAddrs gives the nodes of a network made before the nodes had metrics listeners
// one each, and records them in setup.json.
func (n *Network) addMetricsAddrs() error {
	if len(n.setup.NodeMetricsAddrs) == n.setup.Nodes {
		return nil
	}
	used := map[string]bool{n.setup.ChainAddr: true, n.setup.MetricsAddr: true}
	for _, a := range n.setup.NodeAddrs {
		used[a] = true
	}
	var out []string
	for len(out) < n.setup.Nodes {
		addrs, err := freeaddr.Reserve(n.setup.Nodes - len(out))
		if err != nil {
			return err
		}
		for _, a := range addrs {
			if !used[a] {
				used[a] = true
				out = append(out, a)
			}
		}
	}
	n.setup.NodeMetricsAddrs = out
	sb, err := json.MarshalIndent(&n.setup, "", "  ")
	if err != nil {
		return err
	}
	return durablefile.WriteFile(n.path(SetupFile), append(sb, '\n'), 0o644)
}

// isPartialSetup reports whether entries look like an interrupted devnet set-up.
func isPartialSetup(entries []os.DirEntry) bool {
	for _, e := range entries {
		switch e.Name() {
		case "logs", "nodes", walletFile, publisherWallet, s3Wallet, ValidatorsDir, GenesisFile:
		default:
			return false
		}
	}
	return true
}

// nodeKeys makes node i's keys with floe node keygen and returns its genesis entry.
func (n *Network) nodeKeys(ctx context.Context, i int) (controlplane.GenesisNode, error) {
	keyDir := filepath.Join(n.nodeDir(i), "keys")
	out, err := n.runFloe(ctx, "node", "keygen", "--dir", keyDir)
	if err != nil {
		return controlplane.GenesisNode{}, err
	}
	var keys struct {
		NetworkPublicKey string         `json:"network_public_key"`
		Address          crypto.Address `json:"address"`
	}
	if err := json.Unmarshal(out, &keys); err != nil {
		return controlplane.GenesisNode{}, fmt.Errorf("devnet: floe node keygen: %w", err)
	}
	netPub, err := hex.DecodeString(keys.NetworkPublicKey)
	if err != nil {
		return controlplane.GenesisNode{}, fmt.Errorf("devnet: network key: %w", err)
	}
	raw, err := os.ReadFile(filepath.Join(keyDir, "protocol.key"))
	if err != nil {
		return controlplane.GenesisNode{}, err
	}
	sk, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil {
		return controlplane.GenesisNode{}, fmt.Errorf("devnet: protocol key: %w", err)
	}
	bls, err := crypto.ParseBLSSecretKey(sk)
	if err != nil {
		return controlplane.GenesisNode{}, err
	}
	return controlplane.GenesisNode{Owner: keys.Address, Name: nodeName(i), NetworkAddress: n.setup.NodeAddrs[i],
		NetworkPublicKey: netPub, BLSPublicKey: bls.PublicKey(),
		ProofOfPossession: protocol.SignProofOfPossession(bls, keys.Address, 0),
		Commission:        1000, Stake: nodeStake, StoragePrice: 10, WritePrice: 5, Capacity: 1 << 40}, nil
}

// build makes the process descriptions from the set-up.
func (n *Network) build() error {
	s := n.setup
	bin := n.cfg.Binary
	chainURL := "http://" + s.ChainAddr
	if s.Validators > 0 {
		vset, err := OpenValidators(bin, n.cfg.Dir, n.log)
		if err != nil {
			return err
		}
		n.vset = vset
		chainURL = vset.URL(0)
	} else {
		n.chain = &Process{Name: "control-plane", LogPath: n.path("logs", "control-plane.log"),
			Argv: []string{bin, "chain", "run", "--dir", n.path("chain"), "--genesis", n.path(GenesisFile), "--listen", s.ChainAddr}}
	}
	var targets []string
	for i := range s.nodeCount() {
		_, metrics := s.nodeAddrs(i)
		targets = append(targets, nodeName(i)+"=http://"+metrics+"/metrics")
	}
	n.daemon = &Process{Name: "daemon", LogPath: n.path("logs", "daemon.log"),
		Argv: append([]string{bin, "daemon", "--config", n.path(daemonConfigFile), "--bind-address", n.cfg.Addr,
			"--metrics-address", s.MetricsAddr, "--explorer-metrics", strings.Join(targets, ",")}, n.cfg.DaemonArgs...)}
	if n.cfg.S3Addr != "" && n.cfg.S3Addr != "off" {
		n.s3 = &Process{Name: "s3", LogPath: n.path("logs", "s3.log"),
			Argv: append([]string{bin, "s3", "--config", n.path(s3ConfigFile), "--keys", n.path(S3KeysFile),
				"--listen", n.cfg.S3Addr, "--dir", n.path("s3-index")}, n.cfg.S3Args...)}
	}
	n.info = Info{Daemon: "http://" + n.cfg.Addr, Explorer: "http://" + n.cfg.Addr + "/explorer/", DaemonMetrics: "http://" + s.MetricsAddr + "/metrics",
		ControlPlane: chainURL, ClientConfig: n.path(ClientConfigFile), Wallet: n.path(walletFile), Dir: n.cfg.Dir,
		NShards: s.Shards, EpochDuration: (time.Duration(s.EpochMs) * time.Millisecond).String(),
		DaemonArgv: n.daemon.Argv}
	if n.chain != nil {
		n.info.ChainArgv = n.chain.Argv
	}
	if n.s3 != nil {
		n.info.S3, n.info.S3Argv = "http://"+n.cfg.S3Addr, n.s3.Argv
	}
	if n.cfg.PortalAddr != "" {
		n.portal = &Process{Name: "portal", LogPath: n.path("logs", "portal.log"),
			Argv: []string{bin, "portal", "--config", n.path(ClientConfigFile), "--listen", n.cfg.PortalAddr}}
		_, port, _ := net.SplitHostPort(n.cfg.PortalAddr)
		n.info.Portal, n.info.PortalArgv = "http://localhost:"+port, n.portal.Argv
	}
	n.nodes = nil
	for i := range s.nodeCount() {
		n.addNodeProcess(i)
	}
	return nil
}

// clientConfig is the YAML client configuration for a wallet (the client's LoadConfig format).
func (n *Network) clientConfig(wallet string) []byte {
	return fmt.Appendf(nil, "# Floe client configuration, written by floe devnet.\ncontrol_plane_url: %q\nwallet: %q\nn_shards: %d\n",
		n.info.ControlPlane, wallet, n.setup.Shards)
}

// Start runs the control plane, the nodes and the daemon, waits until each answers, and writes
// devnet.json and client_config.yaml. On failure it stops what it started.
func (n *Network) Start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			n.Stop()
		}
	}()
	if err := os.MkdirAll(n.path("logs"), 0o755); err != nil {
		return err
	}
	if err := durablefile.WriteFile(n.path(ClientConfigFile), n.clientConfig(n.path(walletFile)), 0o644); err != nil {
		return err
	}
	if err := durablefile.WriteFile(n.path(daemonConfigFile), n.clientConfig(n.path(publisherWallet)), 0o644); err != nil {
		return err
	}
	for i := range n.nodes {
		if err := durablefile.WriteFile(filepath.Join(n.nodeDir(i), "node.json"), n.nodeConfigJSON(), 0o644); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.ReadyTimeout)
	defer cancel()
	cp := cpclient.New(n.info.ControlPlane, nil)
	if n.vset != nil {
		if err := n.vset.Start(ctx); err != nil {
			return err
		}
	} else {
		if _, err := n.chain.startOrAdopt(); err != nil {
			return err
		}
		if err := n.chain.WaitReady(ctx, n.log, func(ctx context.Context) error { _, err := cp.Info(ctx); return err }); err != nil {
			return err
		}
	}
	n.log.Info("control plane ready", "url", n.info.ControlPlane)
	committee, err := cp.CurrentCommittee(ctx)
	if err != nil {
		return fmt.Errorf("devnet: committee: %w", err)
	}
	nodes, err := cp.Nodes(ctx)
	if err != nil {
		return fmt.Errorf("devnet: nodes: %w", err)
	}
	eg, ectx := errgroup.WithContext(ctx)
	eg.SetLimit(4)
	for i, p := range n.nodes {
		var pub []byte
		for _, nd := range nodes {
			if nd.Name == p.Name {
				pub = nd.NetworkPublicKey
			}
		}
		for _, m := range committee.Members {
			if m.Name == p.Name {
				n.info.Nodes[i].Shards = m.Shards
			}
		}
		if r := n.setup.removal(p.Name); r != nil && r.Stopped {
			continue // removed, and no longer needed when it was stopped
		}
		eg.Go(func() error { return n.startNode(ectx, i, pub) })
	}
	if err := eg.Wait(); err != nil {
		return err
	}
	if err := n.StartDaemon(ctx); err != nil {
		return err
	}
	if n.s3 != nil {
		if err := n.StartS3(ctx); err != nil {
			return err
		}
	}
	if n.portal != nil {
		if err := n.StartPortal(ctx); err != nil {
			return err
		}
	}
	return n.WriteInfo()
}

// StartS3 starts (or restarts) the S3 gateway and waits until it answers. The first start of
// a network makes the gateway's access key (and, for a network created before the gateway
// existed, its wallet, funded from the devnet's wallet).
func (n *Network) StartS3(ctx context.Context) error {
	if err := n.s3Setup(ctx); err != nil {
		return err
	}
	if _, err := n.s3.startOrAdopt(); err != nil {
		return err
	}
	err := n.s3.WaitReady(ctx, n.log, func(ctx context.Context) error {
		return getOK(ctx, http.DefaultClient, n.info.S3+s3HealthPath)
	})
	if err == nil {
		n.info.S3Pid = n.s3.Pid()
		n.log.Info("s3 gateway ready", "url", n.info.S3)
	}
	return err
}

// s3HealthPath answers 200 without authentication while the gateway runs.
const s3HealthPath = "/_floe/health"

// s3Setup makes the gateway's wallet, configuration and access key if they are missing.
func (n *Network) s3Setup(ctx context.Context) error {
	if _, err := os.Stat(n.path(s3Wallet)); errors.Is(err, os.ErrNotExist) {
		out, err := n.runFloe(ctx, "wallet", "new", "--out", n.path(s3Wallet), "--json")
		if err != nil {
			return err
		}
		var res struct {
			Address string `json:"address"`
		}
		if err := json.Unmarshal(out, &res); err != nil {
			return fmt.Errorf("devnet: floe wallet new: %w", err)
		}
		if _, err := n.runFloe(ctx, "wallet", "transfer", "--url", n.info.ControlPlane, "--key", n.path(walletFile),
			"--to", res.Address, "--amount", fmt.Sprint(uint64(walletFunds/10))); err != nil {
			return err
		}
	}
	if err := durablefile.WriteFile(n.path(s3ConfigFile), n.clientConfig(n.path(s3Wallet)), 0o644); err != nil {
		return err
	}
	b, err := os.ReadFile(n.path(S3KeysFile))
	if errors.Is(err, os.ErrNotExist) {
		id, secret := "FLOE"+strings.ToUpper(hex.EncodeToString(randomBytes(8))), hex.EncodeToString(randomBytes(20))
		b = fmt.Appendf(nil, "# The S3 gateway's access keys, written by floe devnet.\naccess_keys:\n  - access_key_id: %s\n    secret_access_key: %s\n    wallet: %s\n",
			id, secret, s3Wallet)
		if err := durablefile.WriteFile(n.path(S3KeysFile), b, 0o600); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "- "))
		if v, ok := strings.CutPrefix(l, "access_key_id:"); ok && n.info.S3AccessKey == "" {
			n.info.S3AccessKey = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(l, "secret_access_key:"); ok && n.info.S3SecretKey == "" {
			n.info.S3SecretKey = strings.TrimSpace(v)
		}
	}
	return nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return b
}

// startNode starts node i and waits until its health route answers over TLS pinned to pub.
func (n *Network) startNode(ctx context.Context, i int, pub []byte) error {
	p := n.nodes[i]
	if _, err := p.startOrAdopt(); err != nil {
		return err
	}
	hc := http.DefaultClient
	if pub != nil {
		tlsCfg, err := nodetls.ClientConfig(pub, "127.0.0.1", nil)
		if err != nil {
			return err
		}
		tr := &http.Transport{TLSClientConfig: tlsCfg}
		defer tr.CloseIdleConnections()
		hc = &http.Client{Transport: tr}
	} else {
		tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} // readiness only, no data
		defer tr.CloseIdleConnections()
		hc = &http.Client{Transport: tr}
	}
	err := p.WaitReady(ctx, n.log, func(ctx context.Context) error { return getOK(ctx, hc, n.info.Nodes[i].URL+"/v1/health") })
	if err == nil {
		n.info.Nodes[i].Pid = p.Pid()
		n.log.Info("storage node ready", "name", p.Name, "url", n.info.Nodes[i].URL)
	}
	return err
}

// StartDaemon starts (or restarts) the publisher/aggregator daemon and waits for /status.
func (n *Network) StartDaemon(ctx context.Context) error {
	if _, err := n.daemon.startOrAdopt(); err != nil {
		return err
	}
	err := n.daemon.WaitReady(ctx, n.log, func(ctx context.Context) error {
		return getOK(ctx, http.DefaultClient, n.info.Daemon+"/status")
	})
	if err == nil {
		n.info.DaemonPid = n.daemon.Pid()
		n.info.ChainPid = n.chainPid()
		n.log.Info("daemon ready", "url", n.info.Daemon)
	}
	return err
}

// StartPortal starts (or restarts) the site portal and waits until its own host answers.
func (n *Network) StartPortal(ctx context.Context) error {
	if err := n.portal.Start(); err != nil {
		return err
	}
	err := n.portal.WaitReady(ctx, n.log, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.cfg.PortalAddr+"/", nil)
		if err != nil {
			return err
		}
		req.Host = "localhost" // the portal's own page; site hosts are <site>.localhost
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("portal: %s", resp.Status)
		}
		return nil
	})
	if err == nil {
		n.info.PortalPid = n.portal.Pid()
		n.log.Info("portal ready", "url", n.info.Portal)
	}
	return err
}

// Portal returns the site portal's process (nil when it is off).
func (n *Network) Portal() *Process { return n.portal }

func getOK(ctx context.Context, hc *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// WriteInfo writes devnet.json with the current pids, after taking the membership changes
// other processes made.
func (n *Network) WriteInfo() error {
	unlock, err := n.lockSynced()
	if err != nil {
		return err
	}
	defer unlock()
	return n.writeInfoLocked()
}

// writeInfoLocked writes devnet.json; the caller holds the membership lock and n.mu. An
// attached network writes only the pids of the processes it started itself.
func (n *Network) writeInfoLocked() error {
	for i, p := range n.nodes {
		if pid := p.Pid(); pid != 0 || !n.attached {
			n.info.Nodes[i].Pid = pid
		}
	}
	if !n.attached {
		n.info.DaemonPid, n.info.ChainPid = n.daemon.Pid(), n.chainPid()
		if n.s3 != nil {
			n.info.S3Pid = n.s3.Pid()
		}
		if n.portal != nil {
			n.info.PortalPid = n.portal.Pid()
		}
		if n.vset != nil {
			n.info.Validators = n.vset.Info()
		}
	}
	b, err := json.MarshalIndent(&n.info, "", "  ")
	if err != nil {
		return err
	}
	// Owner-only: it holds the S3 gateway's secret access key.
	return durablefile.WriteFile(n.path(InfoFile), append(b, '\n'), 0o600)
}

// Info returns what devnet.json holds.
func (n *Network) Info() Info {
	n.mu.Lock()
	defer n.mu.Unlock()
	info := n.info
	info.Nodes = slices.Clone(n.info.Nodes)
	return info
}

// Node returns storage node i's process (tests kill and restart nodes).
func (n *Network) Node(i int) *Process {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.nodes[i]
}

// NodeCount is the number of nodes ever in the network: genesis and added, running or not.
func (n *Network) NodeCount() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.nodes)
}

// Daemon returns the daemon's process.
func (n *Network) Daemon() *Process { return n.daemon }

// S3 returns the S3 gateway's process (nil when it is off).
func (n *Network) S3() *Process { return n.s3 }

// ControlPlane returns the embedded control plane's process (nil when it runs as validators).
func (n *Network) ControlPlane() *Process { return n.chain }

// Validators returns the CometBFT validators (nil when the control plane is embedded).
func (n *Network) Validators() *ValidatorSet { return n.vset }

func (n *Network) chainPid() int {
	if n.chain == nil {
		return 0
	}
	return n.chain.Pid()
}

// controlPlaneProcs returns the control plane's processes.
func (n *Network) controlPlaneProcs() []*Process {
	if n.vset != nil {
		return n.vset.procs
	}
	return []*Process{n.chain}
}

// Exited returns a channel that receives the name of the first child that exits on its own.
func (n *Network) Exited(ctx context.Context) <-chan string {
	out := make(chan string, 1)
	for _, p := range n.processes() {
		ch := p.Exited()
		if ch == nil {
			continue
		}
		go func() {
			select {
			case <-ch:
				n.mu.Lock()
				retired := n.retired[p]
				n.mu.Unlock()
				if retired {
					return
				}
				select {
				case out <- p.Name:
				default:
				}
			case <-ctx.Done():
			}
		}()
	}
	return out
}

// Stop stops the daemon, then the nodes, then the control plane (SIGTERM, then SIGKILL after
// a grace period). It returns the first error other than "not running".
func (n *Network) Stop() error {
	var first error
	keep := func(err error) {
		if err != nil && !errors.Is(err, ErrNotRunning) && first == nil {
			first = err
		}
	}
	const grace = 10 * time.Second
	if n.portal != nil {
		keep(n.portal.Stop(grace))
	}
	if n.s3 != nil {
		keep(n.s3.Stop(grace))
	}
	if n.daemon != nil {
		keep(n.daemon.Stop(grace))
	}
	var eg errgroup.Group
	n.mu.Lock()
	nodes := slices.Clone(n.nodes)
	n.mu.Unlock()
	for _, p := range nodes {
		eg.Go(func() error {
			if err := p.Stop(grace); err != nil && !errors.Is(err, ErrNotRunning) {
				return err
			}
			return nil
		})
	}
	keep(eg.Wait())
	if n.chain != nil {
		keep(n.chain.Stop(grace))
	}
	if n.vset != nil {
		keep(n.vset.Stop(grace))
	}
	return first
}
