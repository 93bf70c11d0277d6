package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/template"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/internal/controlplane/cpclient"
)

// nodeConfigFile is the configuration file floe node init writes.
const nodeConfigFile = "node.jsonc"

// nodeConfigTemplate is the configuration floe node init writes: every option of nodeConfig,
// each with a comment. It is JSON with // comments, which loadNodeConfig accepts.
var nodeConfigTemplate = template.Must(template.New("node").Parse(`// Floe storage node configuration, written by floe node init.
// JSON with // comments. Flags of floe node run|register override these values, and the
// environment (FLOE_NODE_LISTEN, FLOE_NODE_DATA_DIR, ...) overrides flags.
{
  // The node's name on the control plane, shown by floe info committee and the explorer.
  "name": {{.Name | printf "%q"}},

  // HTTPS address the storage API listens on (the node's TLS certificate is self-signed by
  // its network key, which clients pin from the control plane). Open it to clients and to the
  // other storage nodes.
  "listen": {{.Listen | printf "%q"}},
  // host:port registered on the control plane: what clients and other nodes dial. Defaults to
  // "listen"; set it when the node listens on 0.0.0.0 or sits behind NAT.
  "public_address": {{.PublicAddress | printf "%q"}},
  // Prometheus metrics (plain HTTP, GET /metrics); "off" disables them. Keep it on a private
  // address or firewall it: metrics are for your monitoring, not for the network.
  "metrics_listen": {{.MetricsListen | printf "%q"}},
  // Also serve Go's profiles on the metrics address (GET /debug/pprof/; e.g. go tool pprof
  // http://METRICS/debug/pprof/profile?seconds=30). Off unless you are profiling the node.
  "pprof": {{.Pprof}},
  // The most threads that run the node's Go code at once (Go's GOMAXPROCS); 0: one per CPU.
  // Lower it when several nodes share a machine's cores (floe devnet gives each node
  // CPUs / nodes): fewer threads handing work to each other costs less CPU per upload.
  "gomaxprocs": {{.GoMaxProcs}},

  // Where the node keeps its slivers and metadata (Pebble). Back up the keys, not this: a
  // lost data directory is recovered from the other nodes.
  "data_dir": {{.DataDir | printf "%q"}},
  // The control plane's API: a floe chain run or a CometBFT validator's API address.
  "control_plane": {{.ControlPlane | printf "%q"}},

  // The keys written by floe node init (or floe node keygen): protocol.key (BLS, signs
  // confirmations), network.key (TLS identity), account.key (owns the node, pays, receives
  // rewards). Each of the three may be given as a path of its own instead.
  "key_dir": {{.KeyDir | printf "%q"}},
  "protocol_key": "",
  "network_key": "",
  "account_key": "",

  // debug, info, warn or error (JSON lines on standard error).
  "log_level": {{.LogLevel | printf "%q"}},

  // Sliver bytes the node buffers for blobs not yet registered on the control plane (MiB).
  "max_pending_mib": {{.MaxPendingMiB}},
  // How long an upload may wait for its blob's registration to reach the node (ms).
  "max_wait_for_registration_ms": {{.MaxWaitMillis}},
  // Seconds between scrubs (re-verification of stored slivers); 0 disables scrubbing.
  "scrub_interval_secs": {{.ScrubIntervalSecs}},
  // How long the node waits for slivers to arrive before recovering them from others (ms).
  "recovery_delay_ms": {{.RecoveryDelayMs}},
  // Seconds between garbage collections of expired and deleted blobs.
  "gc_interval_secs": {{.GCIntervalSecs}},

  // Registration (floe node register) and votes: commission on stakers' rewards in basis
  // points (1000 = 10%), the node's price votes in base units (storage: per MiB of encoded
  // size per epoch; writes: per MiB), and the capacity it offers (GiB).
  "commission_bps": {{.Commission}},
  "storage_price": {{.StoragePrice}},
  "write_price": {{.WritePrice}},
  "capacity_gib": {{.CapacityGiB}}
}
`))

// runNodeInit writes a node's keys (DIR/keys) and a configuration with every option
// commented (DIR/node.jsonc), and says what to do next.
func runNodeInit(e *env, args []string) error {
	fs := newFlagSet(e, "node init")
	dir := fs.String("dir", "floe-node", "directory receiving keys/ and "+nodeConfigFile)
	cfg := defaultNodeConfig()
	fs.StringVar(&cfg.Name, "name", cfg.Name, "node name")
	fs.StringVar(&cfg.Listen, "listen", "0.0.0.0:9185", "HTTPS listen address")
	fs.StringVar(&cfg.PublicAddress, "public-address", "", "host:port registered on the control plane (required when listening on 0.0.0.0)")
	fs.StringVar(&cfg.MetricsListen, "metrics-listen", cfg.MetricsListen, "Prometheus listen address, or off")
	fs.StringVar(&cfg.ControlPlane, "control-plane", cfg.ControlPlane, "control plane API URL")
	capacity := fs.Uint64("capacity-gib", cfg.CapacityGiB, "capacity offered, GiB")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg.CapacityGiB = *capacity
	if cfg.PublicAddress == "" && (strings.HasPrefix(cfg.Listen, "0.0.0.0:") || strings.HasPrefix(cfg.Listen, "[::]:") || strings.HasPrefix(cfg.Listen, ":")) {
		return usagef("--public-address HOST:PORT is required when listening on %s (it is what the network dials)", cfg.Listen)
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	path := filepath.Join(abs, nodeConfigFile)
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("%s already exists; refusing to overwrite it", path)
	}
	cfg.KeyDir, cfg.DataDir = filepath.Join(abs, "keys"), filepath.Join(abs, "data")
	var keys bytes.Buffer
	ke := *e
	ke.stdout = &keys
	if err := runNodeKeygen(&ke, []string{"--dir", cfg.KeyDir}); err != nil {
		return err
	}
	var b bytes.Buffer
	if err := nodeConfigTemplate.Execute(&b, cfg); err != nil {
		return err
	}
	if err := writeSecret(path, b.Bytes()); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	// The config must load as written.
	if _, err := decodeNodeConfig(b.Bytes(), path); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "wrote %s and keys in %s\n%s", path, cfg.KeyDir, keys.String())
	fmt.Fprintf(e.stdout, "next: fund the account above, then\n  floe node register --config %s --stake 1000\n  floe node run --config %s\n", path, path)
	return nil
}

// decodeNodeConfig decodes a configuration file (JSON, // comments allowed) over the defaults.
func decodeNodeConfig(b []byte, path string) (nodeConfig, error) {
	cfg := defaultNodeConfig()
	clean, err := stripJSONComments(b)
	if err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	dec := json.NewDecoder(bytes.NewReader(clean))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// errUnterminated is returned for a string or comment that does not end.
var errUnterminated = errors.New("unterminated string or comment")

// stripJSONComments blanks // line comments and /* */ block comments outside strings (keeping
// line numbers, so that decoding errors point at the right line).
func stripJSONComments(b []byte) ([]byte, error) {
	out := make([]byte, len(b))
	copy(out, b)
	inString := false
	for i := 0; i < len(out); i++ {
		c := out[i]
		switch {
		case inString:
			if c == '\\' {
				i++
			} else if c == '"' {
				inString = false
			}
		case c == '"':
			inString = true
		case c == '/' && i+1 < len(out) && out[i+1] == '/':
			for i < len(out) && out[i] != '\n' {
				out[i] = ' '
				i++
			}
		case c == '/' && i+1 < len(out) && out[i+1] == '*':
			end := bytes.Index(out[i+2:], []byte("*/"))
			if end < 0 {
				return nil, errUnterminated
			}
			for j := i; j < i+2+end+2; j++ {
				if out[j] != '\n' {
					out[j] = ' '
				}
			}
			i += 2 + end + 1
		}
	}
	if inString {
		return nil, errUnterminated
	}
	return out, nil
}

// takeFlag removes --name VALUE or --name=VALUE from args and returns its value ("" if
// absent).
func takeFlag(args []string, name string) (rest []string, value string, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(rest, args[i:]...), value, nil
		}
		switch {
		case a == "--"+name || a == "-"+name:
			if i+1 >= len(args) {
				return nil, "", usagef("--%s needs a value", name)
			}
			value = args[i+1]
			i++
		case strings.HasPrefix(a, "--"+name+"="):
			value = strings.TrimPrefix(a, "--"+name+"=")
		case strings.HasPrefix(a, "-"+name+"="):
			value = strings.TrimPrefix(a, "-"+name+"=")
		default:
			rest = append(rest, a)
		}
	}
	return rest, value, nil
}

// stakeNewNode stakes amount from the node's own account with the node just registered.
func stakeNewNode(ctx context.Context, c *cpclient.Client, chainID string, cfg nodeConfig, node cpapi.ObjectID, amount uint64) (map[string]any, error) {
	acct, err := readKeyFile(cfg.AccountKey)
	if err != nil {
		return nil, err
	}
	out, err := c.Execute(ctx, chainID, acct, cpapi.Op{Stake: &cpapi.StakeOp{NodeID: node, Amount: amount}})
	if err != nil {
		return nil, fmt.Errorf("stake with the new node (it is registered: stake later with floe stake --node %s): %w", node, err)
	}
	res := map[string]any{"stake_amount": amount, "stake_height": out.Height}
	if len(out.Created) > 0 {
		res["stake_id"] = out.Created[0]
	}
	for _, ev := range out.Events {
		if ev.Type == cpapi.EventStaked {
			res["stake_activation_epoch"] = ev.StartEpoch
		}
	}
	return res, nil
}
