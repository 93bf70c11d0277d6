package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/controlplane/cpclient"
	"github.com/floelabs/floe/redstuff"
)

// defaultShards is Walrus mainnet's number of shards.
const defaultShards = 1000

func blobIDCommand() command {
	return command{
		name:    "blob-id",
		summary: "compute the Walrus-compatible blob ID of files (offline with --n-shards or a configuration naming n_shards)",
		run:     runBlobID,
	}
}

type blobIDResult struct {
	File            string `json:"file"`
	BlobID          string `json:"blobId"`
	UnencodedLength uint64 `json:"unencodedLength"`
	NShards         int    `json:"nShards"`
}

// blobIDShards returns the number of shards blob IDs are computed for: --n-shards, else the
// configuration's n_shards, else the network's (as Walrus reads it from the chain), else, with
// no configuration at all, Walrus mainnet's 1000.
func blobIDShards(ctx context.Context, fs *flag.FlagSet, nShards int, cf clientFlags, rpcURL string) (int, error) {
	if given(fs, "n-shards") {
		return nShards, nil
	}
	cfg, _, err := loadClientConfig(cf)
	if err != nil {
		if *cf.config != "" || *cf.context != "" {
			return 0, err
		}
		return defaultShards, nil
	}
	if cfg.NShards != 0 && rpcURL == "" {
		return cfg.NShards, nil
	}
	if rpcURL != "" {
		cfg.ControlPlaneURL = rpcURL
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	p, err := cpclient.New(cfg.ControlPlaneURL, nil).Params(ctx)
	if err != nil {
		return 0, fmt.Errorf("reading the number of shards from %s (or give --n-shards): %w", cfg.ControlPlaneURL, err)
	}
	return p.NShards, nil
}

func runBlobID(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "blob-id")
	nShards := fs.Int("n-shards", defaultShards, "number of shards of the target network (default: the configuration's or the network's, else 1000)")
	cf := addClientFlags(fs)
	rpcURL := fs.String("rpc-url", "", "control plane URL to read the number of shards from")
	encoding := fs.String("encoding-type", "", "the encoding (only RS2)")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: floe blob-id [--n-shards N] [--json] FILE...")
		fs.PrintDefaults()
	}
	files, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef("no input files")
	}
	if *encoding != "" && !strings.EqualFold(*encoding, "RS2") {
		return usagef("--encoding-type %q: only RS2 is supported", *encoding)
	}
	n, err := blobIDShards(ctx, fs, *nShards, cf, *rpcURL)
	if err != nil {
		return err
	}
	enc, err := redstuff.New(n)
	if err != nil {
		return usagef("--n-shards: %v", err)
	}
	failed := 0
	for _, name := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		res, err := blobIDOfFile(enc, name)
		if err != nil {
			fmt.Fprintf(e.stderr, "floe blob-id: %s: %v\n", name, err)
			failed++
			continue
		}
		if *cf.asJSON {
			if err := printJSON(e.stdout, blobIDOutput{BlobID: res.BlobID, File: res.File, UnencodedLength: res.UnencodedLength, EncodingType: "RS2"}); err != nil {
				return err
			}
		} else {
			fmt.Fprintf(e.stdout, "%s  %s\n", res.BlobID, name)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d files failed", failed, len(files))
	}
	return nil
}

// blobIDBoundAbove: the blob ID of a regular file larger than this is computed in bounded
// memory (commitBounded); a smaller one is mapped, with the right block of its expansion in
// memory (about 1.8x its size in all, the fastest).
const blobIDBoundAbove = 256 << 20

// commitBounded commits the size bytes of f read as the encoder needs them, with the right
// block of the expansion (half the blob at n = 1000) in a temporary file instead of memory:
// memory stays bounded (the n*n leaf hashes and a few rows per core) whatever the file's size.
func commitBounded(enc *redstuff.Encoder, f *os.File, size int64) (*redstuff.Commitment, error) {
	tmp, err := os.CreateTemp("", "floe-blob-id-*")
	if err != nil {
		return nil, fmt.Errorf("a temporary file for the expansion: %w", err)
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	return enc.CommitAt(f, size, tmp)
}

// blobIDOfFile computes the blob ID of file name (see blobIDBoundAbove).
func blobIDOfFile(enc *redstuff.Encoder, name string) (*blobIDResult, error) {
	return blobIDOfFileBounded(enc, name, blobIDBoundAbove)
}

// blobIDOfFileBounded computes the blob ID of file name, in bounded memory if it is a regular
// file larger than boundAbove bytes.
func blobIDOfFileBounded(enc *redstuff.Encoder, name string, boundAbove int64) (*blobIDResult, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	p := enc.Params()
	if st.Mode().IsRegular() && uint64(st.Size()) > p.MaxBlobSize() {
		return nil, fmt.Errorf("%w: %d bytes; the limit for %d shards is %d bytes", redstuff.ErrDataTooLarge, st.Size(), p.NShards, p.MaxBlobSize())
	}
	var c *redstuff.Commitment
	switch {
	case st.Mode().IsRegular() && st.Size() > boundAbove:
		c, err = commitBounded(enc, f, st.Size())
	case st.Mode().IsRegular():
		// Mapped, or else read as the encoder needs it, not into memory.
		var mapped bool
		if c, mapped, err = commitMapped(enc, f, st.Size()); !mapped {
			c, err = enc.CommitReaderAt(f, st.Size())
		}
	default:
		var data []byte
		if data, err = readAllLimited(f, st.Size(), p.MaxBlobSize()); err == nil {
			c, err = enc.Commit(data)
		}
	}
	if err != nil {
		return nil, err
	}
	id := blob.DeriveID(blob.RS2, c.Length, c.Root)
	return &blobIDResult{File: name, BlobID: id.String(), UnencodedLength: c.Length, NShards: p.NShards}, nil
}

// readAllLimited reads r into one buffer sized from the file size hint, refusing more than limit bytes.
func readAllLimited(r io.Reader, hint int64, limit uint64) ([]byte, error) {
	buf := make([]byte, 0, max(hint, 0)+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if uint64(len(buf)) > limit {
			return nil, fmt.Errorf("%w: more than %d bytes", redstuff.ErrDataTooLarge, limit)
		}
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
