package cli

import (
	"fmt"
	"strings"

	"github.com/floelabs/floe/internal/controlplane/cometbft"
)

// chainJoin is `floe chain join`: the home directory of a new CometBFT node for an existing
// network. Run it with `floe chain run --home DIR`; it follows the chain as a full node and
// votes once the control plane makes it a validator (its operator's storage node is a
// committee member with the key attached: `floe node set-validator --home DIR`).
func chainJoin(e *env, args []string) error {
	fs := newFlagSet(e, "chain join")
	home := fs.String("home", "floe-validator", "home directory to write")
	genesis := fs.String("genesis", "", "the network's CometBFT genesis (config/genesis.json of any of its validators)")
	peers := fs.String("peers", "", "comma-separated persistent peers, NODE_ID@HOST:PORT (floe chain init prints them)")
	p2p := fs.String("p2p", "127.0.0.1:0", "P2P listen address, reachable by the peers (port 0: a free one)")
	rpcPort := fs.Int("rpc-port", 0, "also serve CometBFT's RPC on the P2P host at this port (for nodes that state-sync)")
	wan := fs.Bool("wan", false, "consensus timeouts for a WAN (they must match the network's; default LAN)")
	asJSON := fs.Bool("json", false, "print the node as JSON")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if *genesis == "" || *peers == "" {
		return usagef("usage: floe chain join --genesis GENESIS.json --peers ID@HOST:PORT,... [--home DIR] [--p2p HOST:PORT]")
	}
	t := cometbft.LANTimeouts()
	if *wan {
		t = cometbft.WANTimeouts()
	}
	v, err := cometbft.JoinNetwork(cometbft.JoinConfig{Home: *home, Genesis: *genesis, Peers: strings.Split(*peers, ","),
		P2PAddr: *p2p, RPCPort: *rpcPort, Timeouts: &t})
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, v)
	}
	fmt.Fprintf(e.stdout, "node %s in %s (p2p %s, consensus key %x)\n", v.NodeID, v.Home, v.P2PAddr, v.PublicKey)
	fmt.Fprintf(e.stdout, "start it with: floe chain run --home %s --listen ADDR\n", v.Home)
	fmt.Fprintf(e.stdout, "make it a validator: floe node set-validator --node YOUR_NODE --home %s (your node must be a committee member)\n", v.Home)
	return nil
}
