package portal

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/client"
	"github.com/floelabs/floe/quilt"
)

// FromClient reads sites through the client SDK: site objects from the control plane,
// manifests as blobs, files as quilt patches (only the columns each spans).
func FromClient(c *client.Client) Backend { return sdkBackend{c} }

type sdkBackend struct{ c *client.Client }

// wrap maps the SDK's errors to the portal's.
func wrap(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, client.ErrBlobNotFound), errors.Is(err, client.ErrQuiltPatchNotFound):
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

func (b sdkBackend) SiteObject(ctx context.Context, id client.ObjectID) (*client.Blob, error) {
	o, err := b.c.BlobByObjectID(ctx, id)
	return o, wrap(err)
}

func (b sdkBackend) ReadManifest(ctx context.Context, id blob.ID, limit int64) ([]byte, error) {
	n, err := b.c.BlobSize(ctx, id)
	if err != nil {
		return nil, wrap(err)
	}
	if n > uint64(limit) {
		return nil, fmt.Errorf("%w: manifest %s has %d bytes, limit %d", ErrUnavailable, id, n, limit)
	}
	var buf bytes.Buffer
	if _, err := b.c.Read(ctx, id, &buf); err != nil {
		return nil, wrap(err)
	}
	return buf.Bytes(), nil
}

func (b sdkBackend) ReadPatch(ctx context.Context, id quilt.PatchID) ([]byte, error) {
	p, err := b.c.ReadQuiltPatch(ctx, id)
	if err != nil {
		return nil, wrap(err)
	}
	return p.Data, nil
}
