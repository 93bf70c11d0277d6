package cometbft

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/floelabs/floe/internal/controlplane"
	"github.com/floelabs/floe/internal/freeaddr"
)

// Timeouts are the consensus timeouts. A blob store commits small metadata transactions;
// what matters is latency, so the defaults suit a LAN or loopback, and a WAN deployment raises
// them (or edits config.toml).
type Timeouts struct {
	// Propose is how long validators wait for a proposal before voting nil; it is what a
	// round costs when the proposer is down.
	Propose time.Duration
	// Vote is the prevote and precommit timeout (after seeing +2/3 of any votes).
	Vote time.Duration
	// Commit is the pause after a commit before the next height, which collects transactions
	// into the next block.
	Commit time.Duration
}

// LANTimeouts suit validators on one LAN or on loopback.
func LANTimeouts() Timeouts {
	return Timeouts{Propose: 600 * time.Millisecond, Vote: 200 * time.Millisecond, Commit: 150 * time.Millisecond}
}

// WANTimeouts suit validators spread over continents.
func WANTimeouts() Timeouts {
	return Timeouts{Propose: 3 * time.Second, Vote: time.Second, Commit: time.Second}
}

// NetworkConfig describes a new validator network.
type NetworkConfig struct {
	// Dir receives one home directory per validator: Dir/validator-0, Dir/validator-1, ...
	Dir        string
	Validators int
	// Genesis is the Floe genesis, embedded as the app_state of CometBFT's genesis.
	Genesis *controlplane.Genesis
	// Hosts are the validators' addresses as their peers dial them: one for all, or one per
	// validator (default 127.0.0.1).
	Hosts []string
	// ListenHost is the address each validator's P2P port binds (default: its host).
	ListenHost string
	// P2PPorts are the validators' P2P ports, one per validator (default: free ports on
	// loopback, chosen now; or give BasePort).
	P2PPorts []int
	// BasePort, when P2PPorts is empty and non-zero, gives validator i port BasePort+i.
	BasePort int
	// Timeouts (default LANTimeouts).
	Timeouts *Timeouts
	// RPCPorts, one per validator, turn on CometBFT's RPC server on the validator's host
	// (ListenHost if set) at that port: nodes that state-sync use it to verify headers with
	// their light client (PrepareStateSync). Default: no RPC server.
	RPCPorts []int
}

// Validator is one validator InitNetwork created.
type Validator struct {
	Home    string `json:"home"`
	NodeID  string `json:"node_id"`
	P2PAddr string `json:"p2p_addr"`
	// RPCAddr is CometBFT's RPC address (host:port), if NetworkConfig.RPCPorts turned it on.
	RPCAddr string `json:"rpc_addr,omitempty"`
	// PublicKey is the validator's Ed25519 consensus key.
	PublicKey []byte `json:"public_key"`
}

// genesisPower is the voting power of each genesis validator.
const genesisPower = 10

// InitNetwork writes the keys, the genesis and the configuration of a new network of
// validators with equal voting power, and lists them in c.Genesis.Validators (the Floe
// genesis embedded in CometBFT's). Each validator's home directory holds:
//
//	config/config.toml             CometBFT configuration (peers, ports, timeouts)
//	config/genesis.json            CometBFT genesis; app_state is the Floe genesis
//	config/node_key.json           P2P identity
//	config/priv_validator_key.json consensus signing key (keep it secret)
//	data/                          created by the node (see the package documentation)
func InitNetwork(c NetworkConfig) ([]Validator, error) {
	if c.Validators < 1 {
		return nil, fmt.Errorf("cometbft: %d validators", c.Validators)
	}
	if c.Genesis == nil {
		return nil, errors.New("cometbft: no genesis")
	}
	if err := c.Genesis.Validate(); err != nil {
		return nil, err
	}
	if len(c.Hosts) == 0 {
		c.Hosts = []string{"127.0.0.1"}
	}
	if len(c.Hosts) != 1 && len(c.Hosts) != c.Validators {
		return nil, fmt.Errorf("cometbft: %d hosts for %d validators", len(c.Hosts), c.Validators)
	}
	host := func(i int) string { return c.Hosts[min(i, len(c.Hosts)-1)] }
	ports := c.P2PPorts
	if len(ports) == 0 && c.BasePort != 0 {
		for i := range c.Validators {
			ports = append(ports, c.BasePort+i)
		}
	}
	if len(ports) == 0 {
		// One reservation for all: ports picked one by one could repeat.
		addrs, err := freeaddr.Reserve(c.Validators)
		if err != nil {
			return nil, fmt.Errorf("cometbft: %w", err)
		}
		for _, a := range addrs {
			_, ps, err := net.SplitHostPort(a)
			if err != nil {
				return nil, fmt.Errorf("cometbft: %w", err)
			}
			p, err := strconv.Atoi(ps)
			if err != nil {
				return nil, fmt.Errorf("cometbft: %w", err)
			}
			ports = append(ports, p)
		}
	}
	if len(ports) != c.Validators {
		return nil, fmt.Errorf("cometbft: %d ports for %d validators", len(ports), c.Validators)
	}
	if len(c.RPCPorts) != 0 && len(c.RPCPorts) != c.Validators {
		return nil, fmt.Errorf("cometbft: %d RPC ports for %d validators", len(c.RPCPorts), c.Validators)
	}
	t := LANTimeouts()
	if c.Timeouts != nil {
		t = *c.Timeouts
	}
	vals := make([]Validator, c.Validators)
	genVals := make([]cmttypes.GenesisValidator, c.Validators)
	for i := range vals {
		home := filepath.Join(c.Dir, fmt.Sprintf("validator-%d", i))
		if _, err := os.Stat(filepath.Join(home, "config", "genesis.json")); err == nil {
			return nil, fmt.Errorf("cometbft: %s already holds a validator", home)
		}
		for _, d := range []string{"config", "data"} {
			if err := os.MkdirAll(filepath.Join(home, d), 0o700); err != nil {
				return nil, fmt.Errorf("cometbft: %w", err)
			}
		}
		cfg := cmtcfg.DefaultConfig()
		cfg.SetRoot(home)
		pv := privval.GenFilePV(cfg.PrivValidatorKeyFile(), cfg.PrivValidatorStateFile())
		pv.Save()
		nk, err := p2p.LoadOrGenNodeKey(cfg.NodeKeyFile())
		if err != nil {
			return nil, fmt.Errorf("cometbft: %w", err)
		}
		pub, err := pv.GetPubKey()
		if err != nil {
			return nil, fmt.Errorf("cometbft: %w", err)
		}
		genVals[i] = cmttypes.GenesisValidator{Address: pub.Address(), PubKey: pub, Power: genesisPower, Name: fmt.Sprintf("validator-%d", i)}
		vals[i] = Validator{Home: home, NodeID: string(nk.ID()), P2PAddr: net.JoinHostPort(host(i), strconv.Itoa(ports[i])), PublicKey: pub.Bytes()}
	}
	// The Floe genesis lists the genesis validators, so that the control plane can replace
	// them by the staked operators' validators (internal/controlplane's validators.go).
	c.Genesis.Validators = nil
	for _, v := range genVals {
		c.Genesis.Validators = append(c.Genesis.Validators, controlplane.GenesisValidator{PublicKey: controlplane.ValidatorKey(v.PubKey.Bytes()), Power: v.Power})
	}
	appState, err := json.Marshal(c.Genesis)
	if err != nil {
		return nil, fmt.Errorf("cometbft: %w", err)
	}
	genDoc := &cmttypes.GenesisDoc{GenesisTime: time.UnixMilli(c.Genesis.GenesisTime).UTC(), ChainID: c.Genesis.Params.ChainID,
		InitialHeight: 1, ConsensusParams: cmttypes.DefaultConsensusParams(), Validators: genVals, AppState: appState}
	if err := genDoc.ValidateAndComplete(); err != nil {
		return nil, fmt.Errorf("cometbft: genesis: %w", err)
	}
	for i, v := range vals {
		cfg := Config(v.Home, t)
		cfg.Moniker = fmt.Sprintf("validator-%d", i)
		listen := c.ListenHost
		if listen == "" {
			listen = host(i)
		}
		cfg.P2P.ListenAddress = "tcp://" + net.JoinHostPort(listen, strconv.Itoa(ports[i]))
		if len(c.RPCPorts) != 0 {
			cfg.RPC.ListenAddress = "tcp://" + net.JoinHostPort(listen, strconv.Itoa(c.RPCPorts[i]))
			vals[i].RPCAddr = net.JoinHostPort(host(i), strconv.Itoa(c.RPCPorts[i]))
		}
		var peers []string
		for j, p := range vals {
			if j != i {
				peers = append(peers, p.NodeID+"@"+p.P2PAddr)
			}
		}
		cfg.P2P.PersistentPeers = strings.Join(peers, ",")
		if err := genDoc.SaveAs(cfg.GenesisFile()); err != nil {
			return nil, fmt.Errorf("cometbft: %w", err)
		}
		cmtcfg.WriteConfigFile(filepath.Join(v.Home, "config", "config.toml"), cfg)
	}
	return vals, nil
}

// Config returns Floe's CometBFT configuration for a validator home: the given timeouts,
// no CometBFT RPC server or transaction index (Floe serves its own API), no Prometheus,
// loopback peers allowed, and only the last ABCI responses kept.
func Config(home string, t Timeouts) *cmtcfg.Config {
	cfg := cmtcfg.DefaultConfig()
	cfg.SetRoot(home)
	cfg.LogLevel = "info"
	cfg.RPC.ListenAddress = ""
	cfg.TxIndex.Indexer = "null"
	cfg.Instrumentation.Prometheus = false
	cfg.Storage.DiscardABCIResponses = true
	cfg.P2P.AddrBookStrict = false
	cfg.P2P.AllowDuplicateIP = true
	cfg.P2P.FlushThrottleTimeout = 10 * time.Millisecond
	cfg.Consensus.TimeoutPropose = t.Propose
	cfg.Consensus.TimeoutProposeDelta = t.Propose / 6
	cfg.Consensus.TimeoutPrevote = t.Vote
	cfg.Consensus.TimeoutPrevoteDelta = t.Vote / 4
	cfg.Consensus.TimeoutPrecommit = t.Vote
	cfg.Consensus.TimeoutPrecommitDelta = t.Vote / 4
	cfg.Consensus.TimeoutCommit = t.Commit
	cfg.Consensus.PeerGossipSleepDuration = 10 * time.Millisecond
	cfg.Consensus.PeerQueryMaj23SleepDuration = 500 * time.Millisecond
	cfg.Mempool.Size = 20000
	return cfg
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago, outside the kernel's
// ephemeral range (freeaddr: no outgoing connection takes it before the validator binds it).
func FreePort() (int, error) {
	p, err := freeaddr.Port()
	if err != nil {
		return 0, fmt.Errorf("cometbft: %w", err)
	}
	return p, nil
}

// TrustPoint returns a recent height and its header hash as the CometBFT RPC server at
// rpcAddr (host:port) reports them: the trusted starting point of a node that state-syncs.
// Take it from a validator you trust.
func TrustPoint(ctx context.Context, rpcAddr string) (int64, string, error) {
	c, err := rpchttp.New("http://"+rpcAddr, "/websocket")
	if err != nil {
		return 0, "", fmt.Errorf("cometbft: %w", err)
	}
	res, err := c.Commit(ctx, nil)
	if err != nil {
		return 0, "", fmt.Errorf("cometbft: commit from %s: %w", rpcAddr, err)
	}
	return res.Height, res.Hash().String(), nil
}

// PrepareStateSync makes the node in home catch up by state sync at its next start: it deletes
// the node's blocks, consensus state and Floe data (keeping its keys and its double-signing
// guard, data/priv_validator_state.json), and turns state sync on in config.toml with the given
// RPC servers (at least two, host:port, of nodes that serve CometBFT's RPC) and trusted height
// and header hash (TrustPoint). A node that fell behind the blocks its peers retain cannot
// catch up by replaying blocks; this is how it rejoins, from a peer's snapshot.
func PrepareStateSync(home string, rpcServers []string, trustHeight int64, trustHash string) error {
	cfg, err := LoadConfig(home)
	if err != nil {
		return err
	}
	for _, d := range []string{"blockstore.db", "state.db", "evidence.db", "tx_index.db", "cs.wal", "floe"} {
		if err := os.RemoveAll(filepath.Join(cfg.DBDir(), d)); err != nil {
			return fmt.Errorf("cometbft: %w", err)
		}
	}
	cfg.StateSync.Enable = true
	cfg.StateSync.RPCServers = rpcServers
	cfg.StateSync.TrustHeight = trustHeight
	cfg.StateSync.TrustHash = trustHash
	cfg.StateSync.DiscoveryTime = 5 * time.Second
	if err := cfg.StateSync.ValidateBasic(); err != nil {
		return fmt.Errorf("cometbft: state sync: %w", err)
	}
	cmtcfg.WriteConfigFile(filepath.Join(home, "config", "config.toml"), cfg)
	return nil
}
