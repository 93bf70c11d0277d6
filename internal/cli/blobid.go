package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/redstuff"
)

// defaultShards is Walrus mainnet's number of shards.
const defaultShards = 1000

func blobIDCommand() command {
	return command{
		name:    "blob-id",
		summary: "compute the Walrus-compatible blob ID of files (offline)",
		run:     runBlobID,
	}
}

type blobIDResult struct {
	File            string `json:"file"`
	BlobID          string `json:"blobId"`
	UnencodedLength uint64 `json:"unencodedLength"`
	NShards         int    `json:"nShards"`
}

func runBlobID(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "blob-id")
	nShards := fs.Int("n-shards", defaultShards, "number of shards of the target network")
	asJSON := fs.Bool("json", false, "print one JSON object per file")
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
	enc, err := redstuff.New(*nShards)
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
		if *asJSON {
			b, _ := json.Marshal(res)
			fmt.Fprintf(e.stdout, "%s\n", b)
		} else {
			fmt.Fprintf(e.stdout, "%s  %s\n", res.BlobID, name)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d files failed", failed, len(files))
	}
	return nil
}

func blobIDOfFile(enc *redstuff.Encoder, name string) (*blobIDResult, error) {
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
	data, err := readAllLimited(f, st.Size(), p.MaxBlobSize())
	if err != nil {
		return nil, err
	}
	c, err := enc.Commit(data)
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
