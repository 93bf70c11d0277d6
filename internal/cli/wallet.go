package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/client"
	"github.com/floelabs/floe/internal/controlplane/cpclient"
	"github.com/floelabs/floe/internal/crypto"
)

// defaultControlPlaneURL is where `floe chain run` listens by default.
const defaultControlPlaneURL = "http://127.0.0.1:7070"

// writeKeyFile and readKeyFile store account keys in the SDK's wallet file format.
func writeKeyFile(path string, k *crypto.AccountKey) error { return client.SaveWallet(path, k) }

func readKeyFile(path string) (*crypto.AccountKey, error) { return client.LoadWallet(path) }

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func walletCommand() command {
	return command{name: "wallet", summary: "account keys, balances and transfers (new|balance|transfer)", run: runWallet}
}

func runWallet(ctx context.Context, e *env, args []string) error {
	// Global flags given before the command name (floe --config C wallet balance) come first.
	globals := 0
	for globals < len(args) && strings.HasPrefix(args[globals], "-") {
		globals++
	}
	if globals == len(args) {
		return usagef("usage: floe wallet new|balance|transfer [flags]")
	}
	sub, rest := args[globals], append(append([]string(nil), args[:globals]...), args[globals+1:]...)
	switch sub {
	case "new":
		return walletNew(e, rest)
	case "balance":
		return walletBalance(ctx, e, rest)
	case "transfer":
		return walletTransfer(ctx, e, rest)
	}
	return usagef("unknown wallet command %q (new, balance, transfer)", sub)
}

func walletNew(e *env, args []string) error {
	fs := newFlagSet(e, "wallet new")
	out := fs.String("out", "floe-wallet.json", "file to write the new key to (must not exist)")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	k, err := crypto.GenerateAccountKey(nil)
	if err != nil {
		return err
	}
	if err := writeKeyFile(*out, k); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, map[string]any{"address": k.Address(), "key_file": *out})
	}
	fmt.Fprintf(e.stdout, "address: %s\nkey file: %s\n", k.Address(), *out)
	return nil
}

// addressArg resolves --address or --key.
func addressArg(address, keyPath string) (crypto.Address, error) {
	switch {
	case address != "" && keyPath != "":
		return crypto.Address{}, usagef("give --address or --key, not both")
	case address != "":
		a, err := crypto.ParseAddress(address)
		if err != nil {
			return a, usagef("--address: %v", err)
		}
		return a, nil
	case keyPath != "":
		k, err := readKeyFile(keyPath)
		if err != nil {
			return crypto.Address{}, err
		}
		return k.Address(), nil
	}
	return crypto.Address{}, usagef("give --address or --key")
}

// walletTarget resolves a wallet command's control plane and key: --url, else the client
// configuration's (found as for store and read: --config, ./, $XDG_CONFIG_HOME/floe, ~/.config/floe,
// ~/.floe, the default devnet), else defaultControlPlaneURL; the key from --key, else the
// configuration's wallet (or --wallet's). needKey says whether a key is required.
func walletTarget(cf clientFlags, url, keyPath string, needKey bool) (string, *crypto.AccountKey, error) {
	var key *crypto.AccountKey
	if keyPath != "" {
		k, err := readKeyFile(keyPath)
		if err != nil {
			return "", nil, err
		}
		key = k
	}
	if url != "" && (key != nil || !needKey) {
		return url, key, nil
	}
	cfg, _, err := loadClientConfig(cf)
	if err != nil {
		if key != nil || !needKey {
			return defaultControlPlaneURL, key, nil
		}
		return "", nil, fmt.Errorf("no --key and no client configuration to take the wallet from: %w", err)
	}
	if url == "" {
		url = cfg.ControlPlaneURL
	}
	if key == nil {
		key = cfg.Wallet
	}
	if key == nil && needKey {
		return "", nil, usagef("the client configuration names no wallet: give --key or --wallet")
	}
	return url, key, nil
}

// humanTokens prints an amount of base units as FLOE with the raw figure: "1.5 FLOE (1500000000 base units)".
func humanTokens(units uint64) string {
	return fmt.Sprintf("%s (%d base units)", humanCost(units), units)
}

// parseTransferAmount parses wallet transfer's --amount: base units ("250"), or tokens with
// their unit ("1.5FLOE", "250base").
func parseTransferAmount(s string) (uint64, error) {
	if n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64); err == nil {
		return n, nil
	}
	t := strings.ToLower(strings.TrimSpace(s))
	if !strings.HasSuffix(t, "floe") && !strings.HasSuffix(t, "base") {
		return 0, fmt.Errorf("amount %q: want base units like 250, or FLOE like 1.5FLOE", s)
	}
	return parseTokens(s)
}

func walletBalance(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "wallet balance")
	cf := addClientFlags(fs)
	url := fs.String("url", "", "control plane API URL (default: the client configuration's)")
	address := fs.String("address", "", "account address (default: the client configuration's wallet)")
	keyPath := fs.String("key", "", "key file (instead of --address)")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if *address != "" && *keyPath != "" {
		return usagef("give --address or --key, not both")
	}
	cpURL, key, err := walletTarget(cf, *url, *keyPath, *address == "")
	if err != nil {
		return err
	}
	var a crypto.Address
	if *address != "" {
		if a, err = addressArg(*address, ""); err != nil {
			return err
		}
	} else {
		a = key.Address()
	}
	acc, err := cpclient.New(cpURL, nil).Account(ctx, cpapi.Address(a))
	if errors.Is(err, cpclient.ErrNotFound) {
		// An account the control plane has never seen holds nothing.
		acc, err = &cpapi.Account{Address: cpapi.Address(a)}, nil
	}
	if err != nil {
		return err
	}
	if *cf.asJSON {
		return printJSON(e.stdout, acc)
	}
	fmt.Fprintf(e.stdout, "address: %s\nbalance: %s\nnonce:   %d\n", acc.Address, humanTokens(acc.Balance), acc.Nonce)
	return nil
}

func walletTransfer(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "wallet transfer")
	cf := addClientFlags(fs)
	url := fs.String("url", "", "control plane API URL (default: the client configuration's)")
	keyPath := fs.String("key", "", "sender's key file (default: the client configuration's wallet)")
	to := fs.String("to", "", "recipient address")
	amount := fs.String("amount", "", "amount: base units (2000000000), or FLOE with its unit (2FLOE)")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	dst, err := crypto.ParseAddress(*to)
	if err != nil {
		return usagef("--to: %v", err)
	}
	n, err := parseTransferAmount(*amount)
	if err != nil {
		return usagef("--amount: %v", err)
	}
	cpURL, k, err := walletTarget(cf, *url, *keyPath, true)
	if err != nil {
		return err
	}
	c := cpclient.New(cpURL, nil)
	params, err := c.Params(ctx)
	if err != nil {
		return err
	}
	inc, err := c.Execute(ctx, params.ChainID, k, cpapi.Op{Transfer: &cpapi.TransferOp{To: cpapi.Address(dst), Amount: n}})
	var ce *cpclient.Error
	if err != nil && !(errors.As(err, &ce) && ce.Included != nil && *cf.asJSON) {
		return err
	}
	if *cf.asJSON {
		if perr := printJSON(e.stdout, inc); perr != nil {
			return perr
		}
		return err
	}
	fmt.Fprintf(e.stdout, "transferred %s to %s in block %d (tx %s)\n", humanTokens(n), dst, inc.Height, inc.Hash)
	return nil
}
