package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"

	api "github.com/floelabs/floe/api/daemon"
	"github.com/floelabs/floe/client"
	"github.com/floelabs/floe/internal/crypto"
)

// FromClients serves blobs through several SDK clients, each with its own wallet (Walrus's
// publisher sub-wallets, --n-clients): a store takes a free client, so that up to
// len(stores) stores register, upload and certify at once (a wallet's transactions are
// sequential). The blob object goes to the request's send_object_to, else to keep (the main
// wallet), else, when keep is nil, to client.BurnAddress (Walrus's --burn-after-store). Reads
// and lookups go through reader.
func FromClients(reader *client.Client, stores []*client.Client, keep *client.Address) (Blobs, error) {
	if len(stores) == 0 {
		return nil, errors.New("daemon: no store clients")
	}
	m := &multiBlobs{sdkBlobs: &sdkBlobs{c: reader}, free: make(chan *sdkBlobs, len(stores)), keep: keep}
	for _, c := range stores {
		m.free <- &sdkBlobs{c: c}
	}
	return m, nil
}

type multiBlobs struct {
	*sdkBlobs
	free chan *sdkBlobs
	keep *client.Address
}

// take waits for a free store client; the caller gives it back with m.free <- s.
func (m *multiBlobs) take(ctx context.Context) (*sdkBlobs, error) {
	select {
	case s := <-m.free:
		return s, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// recipient is where a store's object goes when the request names no one: the main wallet,
// else the burn address.
func (m *multiBlobs) recipient() *crypto.Address {
	to := client.BurnAddress
	if m.keep != nil {
		to = *m.keep
	}
	a := crypto.Address(to)
	return &a
}

// storeErr names the store wallet in a store's error.
func storeErr(s *sdkBlobs, err error) error {
	return fmt.Errorf("%w (store wallet %s)", err, s.c.Address())
}

func (m *multiBlobs) Store(ctx context.Context, data []byte, p StoreParams) (*api.BlobStoreResult, error) {
	return m.with(ctx, p, func(s *sdkBlobs, p StoreParams) (*api.BlobStoreResult, error) { return s.Store(ctx, data, p) })
}

// StoreFile is Store from a file (see sdkBlobs.StoreFile).
func (m *multiBlobs) StoreFile(ctx context.Context, r io.ReaderAt, size int64, p StoreParams) (*api.BlobStoreResult, error) {
	return m.with(ctx, p, func(s *sdkBlobs, p StoreParams) (*api.BlobStoreResult, error) { return s.StoreFile(ctx, r, size, p) })
}

// with runs store with a free store client, the object going to the request's recipient.
func (m *multiBlobs) with(ctx context.Context, p StoreParams, store func(*sdkBlobs, StoreParams) (*api.BlobStoreResult, error)) (*api.BlobStoreResult, error) {
	s, err := m.take(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { m.free <- s }()
	if p.SendObjectTo == nil && !p.Share {
		p.SendObjectTo = m.recipient()
	}
	res, err := store(s, p)
	if err != nil {
		return nil, storeErr(s, err)
	}
	return res, nil
}
