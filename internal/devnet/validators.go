package devnet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/floelabs/floe/internal/controlplane/cpclient"
	"github.com/floelabs/floe/internal/durablefile"
	"github.com/floelabs/floe/internal/freeaddr"
)

// ValidatorsDir is the directory (inside a devnet's Dir) of a control plane run as CometBFT
// validators: validator-0 ... validator-N-1 (floe chain init) and validators.json.
const ValidatorsDir = "validators"

// validatorsFile fixes the validators' API addresses (DIR/validators/validators.json).
const validatorsFile = "validators.json"

// ValidatorInfo is one validator in devnet.json's "validators"; Argv restarts it exactly.
type ValidatorInfo struct {
	Name    string   `json:"name"`
	URL     string   `json:"url"`
	Pid     int      `json:"pid"`
	Home    string   `json:"home"`
	LogPath string   `json:"logPath"`
	Argv    []string `json:"argv"`
}

// ValidatorSet is a control plane run as N CometBFT validator processes on 127.0.0.1
// (`floe chain run --home ...`), each serving the control-plane API; any of their URLs is
// the control plane's URL.
type ValidatorSet struct {
	log   *slog.Logger
	procs []*Process
	info  []ValidatorInfo
}

// InitValidators writes a new network of n validators for the Floe genesis in genesisPath
// under dir/validators (floe chain init) and fixes each validator's API address. reserved, when
// not nil, holds 2n free loopback addresses taken in the same reservation as the devnet's
// other addresses (the validators' P2P addresses, then their API addresses), so that no two
// processes of the devnet are given one port; nil reserves them here.
func InitValidators(ctx context.Context, bin, dir, genesisPath string, n int, reserved []string) error {
	if reserved == nil {
		var err error
		if reserved, err = freeaddr.Reserve(2 * n); err != nil {
			return fmt.Errorf("devnet: %w", err)
		}
	}
	if len(reserved) != 2*n {
		return fmt.Errorf("devnet: %d reserved addresses for %d validators (want %d)", len(reserved), n, 2*n)
	}
	p2p := make([]string, n)
	for i, a := range reserved[:n] {
		_, port, err := net.SplitHostPort(a)
		if err != nil {
			return fmt.Errorf("devnet: %w", err)
		}
		p2p[i] = port
	}
	vdir := filepath.Join(dir, ValidatorsDir)
	cmd := exec.CommandContext(ctx, bin, "chain", "init", "--validators", strconv.Itoa(n), "--dir", vdir,
		"--genesis", genesisPath, "--p2p-ports", strings.Join(p2p, ","), "--json")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("devnet: floe chain init: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	b, err := json.Marshal(reserved[n:])
	if err != nil {
		return fmt.Errorf("devnet: %w", err)
	}
	return durablefile.WriteFile(filepath.Join(vdir, validatorsFile), b, 0o644)
}

// OpenValidators describes the validator processes InitValidators wrote under dir.
func OpenValidators(bin, dir string, log *slog.Logger) (*ValidatorSet, error) {
	if log == nil {
		log = slog.Default()
	}
	vdir := filepath.Join(dir, ValidatorsDir)
	b, err := os.ReadFile(filepath.Join(vdir, validatorsFile))
	if err != nil {
		return nil, fmt.Errorf("devnet: %w", err)
	}
	var addrs []string
	if err := json.Unmarshal(b, &addrs); err != nil {
		return nil, fmt.Errorf("devnet: %s: %w", validatorsFile, err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		return nil, fmt.Errorf("devnet: %w", err)
	}
	v := &ValidatorSet{log: log}
	for i, addr := range addrs {
		name := fmt.Sprintf("validator-%d", i)
		home := filepath.Join(vdir, name)
		p := &Process{Name: name, LogPath: filepath.Join(dir, "logs", name+".log"),
			Argv: []string{bin, "chain", "run", "--home", home, "--listen", addr}}
		v.procs = append(v.procs, p)
		v.info = append(v.info, ValidatorInfo{Name: name, URL: "http://" + addr, Home: home, LogPath: p.LogPath, Argv: p.Argv})
	}
	return v, nil
}

// Start starts every validator and waits until each answers the API.
func (v *ValidatorSet) Start(ctx context.Context) error {
	for _, p := range v.procs {
		if _, err := p.startOrAdopt(); err != nil {
			return errors.Join(err, v.Stop(10*time.Second))
		}
	}
	for i := range v.procs {
		if err := v.WaitReady(ctx, i); err != nil {
			return errors.Join(err, v.Stop(10*time.Second))
		}
	}
	return nil
}

// WaitReady waits until validator i answers the API.
func (v *ValidatorSet) WaitReady(ctx context.Context, i int) error {
	c := cpclient.New(v.info[i].URL, nil)
	return v.procs[i].WaitReady(ctx, v.log, func(ctx context.Context) error { _, err := c.Info(ctx); return err })
}

// Process returns validator i's process (to kill or restart it).
func (v *ValidatorSet) Process(i int) *Process { return v.procs[i] }

// URL returns the control-plane API of validator i.
func (v *ValidatorSet) URL(i int) string { return v.info[i].URL }

// Len returns the number of validators.
func (v *ValidatorSet) Len() int { return len(v.procs) }

// Info returns the validators for devnet.json, with their current pids.
func (v *ValidatorSet) Info() []ValidatorInfo {
	out := make([]ValidatorInfo, len(v.info))
	for i, in := range v.info {
		in.Pid = v.procs[i].Pid()
		out[i] = in
	}
	return out
}

// Stop stops every validator (SIGTERM, then SIGKILL after grace).
func (v *ValidatorSet) Stop(grace time.Duration) error {
	var errs []error
	for _, p := range v.procs {
		if p.Running() {
			errs = append(errs, p.Stop(grace))
		}
	}
	return errors.Join(errs...)
}
