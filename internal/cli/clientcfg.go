package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/floelabs/floe/client"
	"github.com/floelabs/floe/internal/devnet"
)

// clientFlags are the flags every client command takes: Walrus's global options (given
// before the command name they are handed on after it) and Floe's -v.
type clientFlags struct {
	config    *string
	context   *string
	wallet    *string
	gasBudget *uint64
	asJSON    *bool
	verbose   *bool
}

func addClientFlags(fs *flag.FlagSet) clientFlags {
	return clientFlags{
		config:    fs.String("config", "", "client configuration file (default: client_config.yaml or .yml in ./, $XDG_CONFIG_HOME/floe/, ~/.config/floe/, ~/.floe/, else the default devnet's)"),
		context:   fs.String("context", "", "the context of a multi-context configuration file (default: its default_context)"),
		wallet:    fs.String("wallet", "", "wallet (account key file) to use instead of the configuration's"),
		gasBudget: fs.Uint64("gas-budget", 0, "accepted for Walrus compatibility: Floe's control plane charges no gas"),
		asJSON:    fs.Bool("json", false, "print JSON"),
		verbose:   fs.Bool("v", false, "log the client's work to standard error"),
	}
}

// configDirs are the directories searched for client_config.yaml, in order (Walrus's, with
// floe for walrus), before the default devnet's.
func configDirs() []string {
	dirs := []string{"."}
	if x := os.Getenv("XDG_CONFIG_HOME"); x != "" {
		dirs = append(dirs, filepath.Join(x, "floe"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, ".config", "floe"), filepath.Join(home, ".floe"))
	}
	return dirs
}

// findClientConfig resolves the configuration file as Walrus's CLI does: --config, else
// client_config.yaml (or .yml) in ./, $XDG_CONFIG_HOME/floe/, ~/.config/floe/ and ~/.floe/,
// else the default devnet's.
func findClientConfig(flagValue string) (string, error) {
	if flagValue != "" {
		if _, err := os.Stat(flagValue); err != nil {
			return "", fmt.Errorf("%w: --config: %w", client.ErrInvalidConfig, err)
		}
		return flagValue, nil
	}
	dirs := configDirs()
	for _, d := range dirs {
		for _, name := range []string{devnet.ClientConfigFile, "client_config.yml"} {
			p := filepath.Join(d, name)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
	}
	dir, err := devnet.DefaultDir()
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, devnet.ClientConfigFile)
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%w: no --config, no %s in %s and no devnet at %s (start one with floe devnet)",
		client.ErrInvalidConfig, devnet.ClientConfigFile, strings.Join(dirs, ", "), dir)
}

// loadClientConfig finds and loads the configuration named by the flags (its context, its
// wallet or --wallet's).
func loadClientConfig(cf clientFlags) (*client.Config, string, error) {
	path, err := findClientConfig(*cf.config)
	if err != nil {
		return nil, "", err
	}
	cfg, err := client.LoadConfigContext(path, *cf.context)
	if err != nil {
		return nil, path, err
	}
	if *cf.wallet != "" {
		if cfg.Wallet, err = client.LoadWallet(*cf.wallet); err != nil {
			return nil, path, err
		}
	}
	return cfg, path, nil
}

// openClient loads the configuration and connects.
func openClient(ctx context.Context, e *env, cf clientFlags) (*client.Client, error) {
	return openClientAt(ctx, e, cf, "", nil)
}

func newVerboseLogger(e *env) *slog.Logger {
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// humanBytes prints a size in binary units: "1.5 MiB".
func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// humanCost prints an amount of base units as tokens (10^9 units each): "0.000123 FLOE".
func humanCost(units uint64) string {
	whole, frac := units/1_000_000_000, units%1_000_000_000
	s := fmt.Sprintf("%d.%09d", whole, frac)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s + " FLOE"
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressBar draws "label [#####     ] 45% 12.0 MiB/26.7 MiB" on a terminal, in place.
type progressBar struct {
	w       io.Writer
	label   string
	lastPct int
}

// newProgress returns a bar for transfers of at least minBytes when w is a terminal, else nil.
func newProgress(w io.Writer, label string, total int64) *progressBar {
	const minBytes = 4 << 20
	if total < minBytes || !isTerminal(w) {
		return nil
	}
	return &progressBar{w: w, label: label, lastPct: -1}
}

func (p *progressBar) update(done, total int64) {
	if p == nil || total <= 0 {
		return
	}
	pct := int(done * 100 / total)
	if pct == p.lastPct {
		return
	}
	p.lastPct = pct
	const width = 30
	fill := pct * width / 100
	fmt.Fprintf(p.w, "\r%s [%s%s] %3d%% %s/%s", p.label, strings.Repeat("#", fill), strings.Repeat(" ", width-fill), pct,
		humanBytes(uint64(done)), humanBytes(uint64(total)))
}

func (p *progressBar) finish() {
	if p != nil && p.lastPct >= 0 {
		fmt.Fprintln(p.w)
	}
}

// countingWriter reports the bytes written through it to a progress bar.
type countingWriter struct {
	w     io.Writer
	n     int64
	total int64
	bar   *progressBar
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.bar.update(c.n, c.total)
	return n, err
}
