package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

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
	if len(args) == 0 {
		return usagef("usage: floe wallet new|balance|transfer [flags]")
	}
	switch args[0] {
	case "new":
		return walletNew(e, args[1:])
	case "balance":
		return walletBalance(ctx, e, args[1:])
	case "transfer":
		return walletTransfer(ctx, e, args[1:])
	}
	return usagef("unknown wallet command %q (new, balance, transfer)", args[0])
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

func walletBalance(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "wallet balance")
	url := fs.String("url", defaultControlPlaneURL, "control plane API URL")
	address := fs.String("address", "", "account address")
	keyPath := fs.String("key", "", "key file (instead of --address)")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	a, err := addressArg(*address, *keyPath)
	if err != nil {
		return err
	}
	acc, err := cpclient.New(*url, nil).Account(ctx, cpapi.Address(a))
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, acc)
	}
	fmt.Fprintf(e.stdout, "address: %s\nbalance: %d\nnonce:   %d\n", acc.Address, acc.Balance, acc.Nonce)
	return nil
}

func walletTransfer(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "wallet transfer")
	url := fs.String("url", defaultControlPlaneURL, "control plane API URL")
	keyPath := fs.String("key", "floe-wallet.json", "sender's key file")
	to := fs.String("to", "", "recipient address")
	amount := fs.String("amount", "", "amount in base units")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	dst, err := crypto.ParseAddress(*to)
	if err != nil {
		return usagef("--to: %v", err)
	}
	n, err := strconv.ParseUint(*amount, 10, 64)
	if err != nil {
		return usagef("--amount: %v", err)
	}
	k, err := readKeyFile(*keyPath)
	if err != nil {
		return err
	}
	c := cpclient.New(*url, nil)
	params, err := c.Params(ctx)
	if err != nil {
		return err
	}
	inc, err := c.Execute(ctx, params.ChainID, k, cpapi.Op{Transfer: &cpapi.TransferOp{To: cpapi.Address(dst), Amount: n}})
	var ce *cpclient.Error
	if err != nil && !(errors.As(err, &ce) && ce.Included != nil && *asJSON) {
		return err
	}
	if *asJSON {
		if perr := printJSON(e.stdout, inc); perr != nil {
			return perr
		}
		return err
	}
	fmt.Fprintf(e.stdout, "transferred %d to %s in block %d (tx %s)\n", n, dst, inc.Height, inc.Hash)
	return nil
}
