package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/floelabs/floe/client"
)

// exampleNetwork starts a small local network and returns a client with a funded wallet.
// Against a real network, load the configuration instead:
//
//	cfg, err := client.LoadConfig("client_config.yaml")
//	c, err := client.New(ctx, *cfg)
func exampleNetwork(ctx context.Context) (*testNetwork, *client.Client) {
	tn, err := startNetwork(netOptions{Shards: 10, Stakes: []uint64{1, 1, 1, 1}})
	if err != nil {
		log.Fatal(err)
	}
	wallet, err := tn.NewWallet(ctx, 1_000_000_000)
	if err != nil {
		log.Fatal(err)
	}
	c, err := client.New(ctx, client.Config{ControlPlaneURL: tn.URL, Wallet: wallet})
	if err != nil {
		log.Fatal(err)
	}
	return tn, c
}

func ExampleClient_StoreBytes() {
	ctx := context.Background()
	tn, c := exampleNetwork(ctx)
	defer tn.Close()
	defer c.Close() // idle HTTP/2 connections would hold up the nodes' shutdown

	res, err := c.StoreBytes(ctx, []byte("hello, Floe"), client.StoreOptions{Epochs: 2})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("newly created:", res.NewlyCreated, "stored for epochs", res.Blob.Storage.Start, "to", res.EndEpoch)

	// Storing the same bytes again finds them certified and does nothing.
	again, err := c.StoreBytes(ctx, []byte("hello, Floe"), client.StoreOptions{Epochs: 1})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("already certified:", again.AlreadyCertified, again.BlobID == res.BlobID)
	// Output:
	// newly created: true stored for epochs 1 to 3
	// already certified: true true
}

func ExampleClient_Read() {
	ctx := context.Background()
	tn, c := exampleNetwork(ctx)
	defer tn.Close()
	defer c.Close() // idle HTTP/2 connections would hold up the nodes' shutdown

	res, err := c.StoreBytes(ctx, []byte("the quick brown fox"), client.StoreOptions{})
	if err != nil {
		log.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := c.Read(ctx, res.BlobID, &buf); err != nil {
		log.Fatal(err)
	}
	fmt.Println(buf.String())

	buf.Reset()
	if err := c.ReadRange(ctx, res.BlobID, 4, 5, &buf); err != nil {
		log.Fatal(err)
	}
	fmt.Println(buf.String())
	// Output:
	// the quick brown fox
	// quick
}

func ExampleClient_Delete() {
	ctx := context.Background()
	tn, c := exampleNetwork(ctx)
	defer tn.Close()
	defer c.Close() // idle HTTP/2 connections would hold up the nodes' shutdown

	res, err := c.StoreBytes(ctx, []byte("short-lived"), client.StoreOptions{})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Delete(ctx, res.ObjectID); err != nil {
		log.Fatal(err)
	}
	_, err = c.Read(ctx, res.BlobID, &bytes.Buffer{})
	fmt.Println(errors.Is(err, client.ErrBlobNotFound))
	// Output:
	// true
}
