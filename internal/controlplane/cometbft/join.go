package cometbft

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	cmttypes "github.com/cometbft/cometbft/types"

	cpapi "github.com/floelabs/floe/api/controlplane"
)

// JoinConfig describes a node joining an existing network: a full node that follows the
// chain and becomes a validator when the control plane puts its key in the validator set
// (its operator's storage node is a committee member with the key attached, see
// internal/controlplane's validators.go).
type JoinConfig struct {
	// Home receives the node's home directory (it must not hold a node yet).
	Home string
	// Genesis is the network's CometBFT genesis file (config/genesis.json of any member).
	Genesis string
	// Peers are persistent peers, "nodeid@host:port", comma-separated on the command line.
	Peers []string
	// P2PAddr is the address the node's P2P port listens on and peers dial (host:port; port 0
	// picks a free one).
	P2PAddr string
	// RPCPort, if non-zero, turns on CometBFT's RPC server on the P2P host at that port.
	RPCPort int
	// Timeouts (default LANTimeouts; they must match the network's).
	Timeouts *Timeouts
}

// JoinNetwork writes the home directory of a node joining a network: fresh consensus and P2P
// keys, the network's genesis, and a configuration with its peers. Started with Open (or
// `floe chain run --home`), it block-syncs from its peers; it votes once its key is in the
// validator set.
func JoinNetwork(c JoinConfig) (Validator, error) {
	if _, err := os.Stat(filepath.Join(c.Home, "config", "genesis.json")); err == nil {
		return Validator{}, fmt.Errorf("cometbft: %s already holds a node", c.Home)
	}
	genDoc, err := cmttypes.GenesisDocFromFile(c.Genesis)
	if err != nil {
		return Validator{}, fmt.Errorf("cometbft: %w", err)
	}
	host, port, err := net.SplitHostPort(c.P2PAddr)
	if err != nil {
		return Validator{}, fmt.Errorf("cometbft: P2P address %q: %w", c.P2PAddr, err)
	}
	if port == "0" {
		p, err := FreePort()
		if err != nil {
			return Validator{}, err
		}
		port = strconv.Itoa(p)
	}
	for _, d := range []string{"config", "data"} {
		if err := os.MkdirAll(filepath.Join(c.Home, d), 0o700); err != nil {
			return Validator{}, fmt.Errorf("cometbft: %w", err)
		}
	}
	t := LANTimeouts()
	if c.Timeouts != nil {
		t = *c.Timeouts
	}
	cfg := Config(c.Home, t)
	cfg.Moniker = filepath.Base(c.Home)
	cfg.P2P.ListenAddress = "tcp://" + net.JoinHostPort(host, port)
	cfg.P2P.PersistentPeers = strings.Join(c.Peers, ",")
	v := Validator{Home: c.Home, P2PAddr: net.JoinHostPort(host, port)}
	if c.RPCPort != 0 {
		cfg.RPC.ListenAddress = "tcp://" + net.JoinHostPort(host, strconv.Itoa(c.RPCPort))
		v.RPCAddr = net.JoinHostPort(host, strconv.Itoa(c.RPCPort))
	}
	pv := privval.GenFilePV(cfg.PrivValidatorKeyFile(), cfg.PrivValidatorStateFile())
	pv.Save()
	nk, err := p2p.LoadOrGenNodeKey(cfg.NodeKeyFile())
	if err != nil {
		return Validator{}, fmt.Errorf("cometbft: %w", err)
	}
	v.NodeID, v.PublicKey = string(nk.ID()), pv.Key.PubKey.Bytes()
	if err := genDoc.SaveAs(cfg.GenesisFile()); err != nil {
		return Validator{}, fmt.Errorf("cometbft: %w", err)
	}
	cmtcfg.WriteConfigFile(filepath.Join(c.Home, "config", "config.toml"), cfg)
	return v, nil
}

// SignValidatorKey returns the consensus public key of the validator in home and its
// signature of the message that attaches it to node on chain chainID (the SetValidator
// operation).
func SignValidatorKey(home, chainID string, node cpapi.ObjectID) (pub, sig []byte, err error) {
	cfg, err := LoadConfig(home)
	if err != nil {
		return nil, nil, err
	}
	if _, err := os.Stat(cfg.PrivValidatorKeyFile()); err != nil {
		return nil, nil, fmt.Errorf("cometbft: %w", err)
	}
	pv := privval.LoadFilePV(cfg.PrivValidatorKeyFile(), cfg.PrivValidatorStateFile())
	if pv.Key.PrivKey.Type() != "ed25519" {
		return nil, nil, fmt.Errorf("cometbft: the validator key of %s is %s, not ed25519", home, pv.Key.PrivKey.Type())
	}
	sig, err = pv.Key.PrivKey.Sign(cpapi.ValidatorKeyMessage(chainID, node))
	if err != nil {
		return nil, nil, fmt.Errorf("cometbft: %w", err)
	}
	return pv.Key.PubKey.Bytes(), sig, nil
}
