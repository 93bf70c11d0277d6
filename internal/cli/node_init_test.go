package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/internal/controlplane/cpclient"
)

// startChainURL runs `floe chain run` on a free port until the test ends and returns its API
// URL.
func startChainURL(t *testing.T, bin, dir string) string {
	t.Helper()
	cmd := exec.Command(bin, "chain", "run", "--dir", dir, "--listen", "127.0.0.1:0", "--json")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the ready line: %v", err)
	}
	var ready chainReady
	if err := json.Unmarshal([]byte(line), &ready); err != nil {
		t.Fatalf("ready line %q: %v", line, err)
	}
	return ready.URL
}

// TestNodeInitRegisterStake runs the operator guide's first steps against a real `floe chain
// run`: floe node init writes keys and a commented configuration that loads as written; the
// node's account, funded from the faucet, registers the node and stakes with it in one
// command (floe node register --stake); a second init into the same directory is refused.
func TestNodeInitRegisterStake(t *testing.T) {
	if testing.Short() {
		t.Skip("builds floe and runs a control plane")
	}
	bin := buildFloe(t)
	dir := t.TempDir()
	cpURL := startChainURL(t, bin, filepath.Join(dir, "chain"))
	cp := cpclient.New(cpURL, nil)
	floe := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("floe %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	nodeDir := filepath.Join(dir, "node-a")
	out := floe("node", "init", "--dir", nodeDir, "--name", "node-a", "--listen", "0.0.0.0:9185", "--public-address", "node-a.example:9185",
		"--control-plane", cpURL)
	cfgPath := filepath.Join(nodeDir, nodeConfigFile)
	for _, want := range []string{"wrote " + cfgPath, "floe node register --config " + cfgPath + " --stake 1000"} {
		if !strings.Contains(out, want) {
			t.Errorf("node init printed %q, lacking %q", out, want)
		}
	}
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := decodeNodeConfig(b, cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Name != "node-a" || cfg.Listen != "0.0.0.0:9185" || cfg.PublicAddress != "node-a.example:9185" || cfg.ControlPlane != cpURL ||
		cfg.KeyDir != filepath.Join(nodeDir, "keys") || cfg.DataDir != filepath.Join(nodeDir, "data") {
		t.Errorf("config as loaded: %+v", cfg)
	}
	// Every option is in the file, each after a comment.
	var fields map[string]any
	clean, _ := stripJSONComments(b)
	if err := json.Unmarshal(clean, &fields); err != nil {
		t.Fatal(err)
	}
	tagged, _ := json.Marshal(defaultNodeConfig())
	var all map[string]any
	json.Unmarshal(tagged, &all)
	for k := range all {
		if _, ok := fields[k]; !ok {
			t.Errorf("the config file lacks option %q", k)
		}
		if !bytes.Contains(b, []byte("\n  \""+k+"\"")) {
			t.Errorf("option %q is not on a line of its own", k)
		}
	}
	if st, _ := os.Stat(cfgPath); st.Mode().Perm() != 0o600 {
		t.Errorf("config mode %v", st.Mode().Perm())
	}
	if out, err := exec.Command(bin, "node", "init", "--dir", nodeDir, "--listen", "127.0.0.1:9185").CombinedOutput(); err == nil || !strings.Contains(string(out), "already exists") {
		t.Errorf("a second init: %v %s", err, out)
	}

	// Fund the node's account from the faucet, then register and stake in one command.
	acct, err := readKeyFile(filepath.Join(nodeDir, "keys", accountKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	floe("wallet", "transfer", "--url", cpURL, "--key", filepath.Join(dir, "chain", "faucet.json"), "--to", acct.Address().String(), "--amount", "2000000000000")
	if out, err := exec.Command(bin, "node", "register", "--config", cfgPath, "--stake", "0").CombinedOutput(); err == nil || !strings.Contains(string(out), "--stake") {
		t.Errorf("--stake 0: %v %s", err, out)
	}
	var res struct {
		NodeID cpapi.ObjectID `json:"node_id"`
		Stake  uint64         `json:"stake_amount"`
		Epoch  uint32         `json:"stake_activation_epoch"`
	}
	if err := json.Unmarshal([]byte(floe("node", "register", "--config", cfgPath, "--stake", "1000")), &res); err != nil {
		t.Fatal(err)
	}
	if res.Stake != 1000_000_000_000 || res.Epoch == 0 {
		t.Errorf("register --stake: %+v", res)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stakes, err := cp.Stakes(ctx, cpapi.Address(acct.Address()))
	if err != nil {
		t.Fatal(err)
	}
	if len(stakes) != 1 || stakes[0].NodeID != res.NodeID || stakes[0].Amount != 1000_000_000_000 {
		t.Errorf("stakes of the node's account: %+v", stakes)
	}
}

// Comments are blanked outside strings only, line numbers kept; unterminated ones fail.
func TestStripJSONComments(t *testing.T) {
	in := "// head\n{\"a\": \"http://x//y\", /* b */ \"c\": \"\\\"//\" // tail\n}"
	out, err := stripJSONComments([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]string
	if err := json.Unmarshal(out, &v); err != nil || v["a"] != "http://x//y" || v["c"] != "\"//" {
		t.Fatalf("%q → %v %v", out, v, err)
	}
	if bytes.Count(out, []byte("\n")) != 2 || len(out) != len(in) {
		t.Errorf("lines or length changed: %q", out)
	}
	for _, bad := range []string{"{\"a\": \"x", "{/* x", "\"\\"} {
		if _, err := stripJSONComments([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func FuzzStripJSONComments(f *testing.F) {
	for _, s := range []string{"", "{}", "// x\n{\"a\":1}", "{\"u\":\"http://a\"/*c*/}", "\"\\", "/*", "/", "\"//\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := stripJSONComments(b)
		if err != nil {
			return
		}
		if len(out) != len(b) || bytes.Count(out, []byte("\n")) != bytes.Count(b, []byte("\n")) {
			t.Fatalf("length or lines changed: %q → %q", b, out)
		}
		if json.Valid(b) && !bytes.Contains(b, []byte("/")) && !bytes.Equal(out, b) {
			t.Fatalf("JSON without slashes changed: %q → %q", b, out)
		}
	})
}
