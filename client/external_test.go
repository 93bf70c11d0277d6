package client_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// externalProgram uses the SDK as a program outside the Floe module would: it can name every
// type the API takes or returns (no internal package is importable from there).
const externalProgram = `package main

import (
	"context"
	"fmt"
	"os"

	"github.com/floelabs/floe/client"
)

func main() {
	ctx := context.Background()
	cfg, err := client.LoadConfig(os.Args[1])
	if err != nil {
		panic(err)
	}
	var w *client.AccountKey
	if w, err = client.NewWallet(); err != nil {
		panic(err)
	}
	if err := client.SaveWallet(os.Args[2], w); err != nil {
		panic(err)
	}
	cfg.Wallet = w
	c, err := client.New(ctx, *cfg)
	if err != nil {
		panic(err)
	}
	var to client.Address
	if to, err = client.ParseAddress(os.Args[3]); err != nil {
		panic(err)
	}
	res, err := c.StoreBytes(ctx, []byte("hello"), client.StoreOptions{Epochs: 2, SendObjectTo: &to})
	if err != nil {
		panic(err)
	}
	var obj client.ObjectID = res.ObjectID
	var b *client.Blob = res.Blob
	var s client.Storage = b.Storage
	blobs, err := c.ListBlobs(ctx, &to)
	var list []client.Blob = blobs
	var com *client.Committee
	fmt.Println(obj, s.End, len(list), com == nil, err)
	if _, err := client.ParseObjectID(obj.String()); err != nil {
		panic(err)
	}
}
`

// TestExternalModule compiles externalProgram in a module of its own that requires this one.
func TestExternalModule(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go build")
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Dir(filepath.Dir(file))
	dir := t.TempDir()
	gomod := "module example.com/floeuser\n\ngo 1.26\n\nrequire github.com/floelabs/floe v0.0.0\n\nreplace github.com/floelabs/floe => " + root + "\n"
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string][]byte{"go.mod": []byte(gomod), "go.sum": sum, "main.go": []byte(externalProgram)} {
		if err := os.WriteFile(filepath.Join(dir, name), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", "build", "-mod=mod", "-o", os.DevNull, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("an outside module cannot use the SDK: %v\n%s", err, out)
	}
}
