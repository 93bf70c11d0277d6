package cli

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	api "github.com/floelabs/floe/api/daemon"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/client"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/daemon"
	"github.com/floelabs/floe/internal/protocol"
	"github.com/floelabs/floe/redstuff"
)

func storeCommand() command {
	return command{name: "store", summary: "store files as blobs: store FILE... [--epochs N] [--permanent] [--force]", run: runStore}
}

func readCommand() command {
	return command{name: "read", summary: "read a blob: read BLOB_ID [--out FILE]", run: runRead}
}

func blobStatusCommand() command {
	return command{name: "blob-status", summary: "status of a blob: blob-status --blob-id ID | --file FILE", run: runBlobStatus}
}

func listBlobsCommand() command {
	return command{name: "list-blobs", summary: "the blob objects the wallet (or --owner) owns", run: runListBlobs}
}

func deleteCommand() command {
	return command{name: "delete", summary: "delete deletable blobs: delete --object-ids ID,... | --blob-ids ID,...", run: runDelete}
}

func extendCommand() command {
	return command{name: "extend", summary: "extend a blob's lifetime: extend --blob-obj-id ID --epochs-extended N", run: runExtend}
}

// storeOutput is one line of `floe store --json`, as Walrus prints it.
type storeOutput struct {
	BlobStoreResult *api.BlobStoreResult `json:"blobStoreResult"`
	Path            string               `json:"path"`
}

func runStore(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "store")
	cf := addClientFlags(fs)
	epochs := fs.Uint("epochs", 1, "epochs to store the blobs for, from the current one")
	permanent := fs.Bool("permanent", false, "store permanent blobs (default: deletable)")
	force := fs.Bool("force", false, "store even if the blob is already certified long enough")
	sendTo := fs.String("send-object-to", "", "address that receives the blob objects")
	files, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef("usage: floe store FILE... [--epochs N] [--permanent] [--force] [--json]")
	}
	if *epochs == 0 || *epochs > 1<<32-1 {
		return usagef("--epochs must be between 1 and %d", uint32(1<<32-1))
	}
	opts := client.StoreOptions{Epochs: uint32(*epochs), Permanent: *permanent, Force: *force}
	if *sendTo != "" {
		a, err := crypto.ParseAddress(*sendTo)
		if err != nil {
			return usagef("--send-object-to: %v", err)
		}
		opts.SendObjectTo = (*client.Address)(&a)
	}
	c, err := openClient(ctx, e, cf)
	if err != nil {
		return err
	}
	defer c.Close()
	var outs []storeOutput
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		bar := newProgress(e.stderr, "storing "+filepath.Base(path), int64(len(data)))
		o := opts
		if bar != nil {
			o.Progress = bar.update
		}
		res, err := c.StoreBytes(ctx, data, o)
		bar.finish()
		if err != nil {
			return fmt.Errorf("storing %s: %w", path, err)
		}
		if *cf.asJSON {
			outs = append(outs, storeOutput{BlobStoreResult: daemon.StoreResultJSON(res), Path: path})
			continue
		}
		if res.AlreadyCertified {
			fmt.Fprintf(e.stdout, "%s: already certified\n  blob ID    %s\n  end epoch  %d (exclusive)\n  object     %s\n", path, res.BlobID, res.EndEpoch, res.ObjectID)
			continue
		}
		kind := "deletable"
		if *permanent {
			kind = "permanent"
		}
		fmt.Fprintf(e.stdout, "%s: stored (%s)\n  blob ID    %s\n  object     %s\n  size       %s (encoded %s)\n  end epoch  %d (exclusive)\n  cost       %s\n",
			path, kind, res.BlobID, res.ObjectID, humanBytes(res.Size), humanBytes(res.EncodedLength), res.EndEpoch, humanCost(res.Cost))
	}
	if *cf.asJSON {
		return printJSON(e.stdout, outs)
	}
	return nil
}

func runRead(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "read")
	cf := addClientFlags(fs)
	out := fs.String("out", "", "file to write the blob to (default: standard output)")
	fs.Bool("strict-consistency-check", false, "accepted for compatibility (Floe always runs the default check)")
	fs.Bool("skip-consistency-check", false, "accepted for compatibility (Floe always runs the default check)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("usage: floe read BLOB_ID [--out FILE] [--json]")
	}
	id, err := blob.ParseID(pos[0])
	if err != nil {
		return usagef("blob ID %q: %v", pos[0], err)
	}
	c, err := openClient(ctx, e, cf)
	if err != nil {
		return err
	}
	defer c.Close()
	if *out == "" && *cf.asJSON {
		data, err := c.ReadBytes(ctx, id)
		if err != nil {
			return err
		}
		return printJSON(e.stdout, map[string]any{"blobId": id, "blob": base64.StdEncoding.EncodeToString(data)})
	}
	if *out == "" {
		// Streamed, so that a blob larger than memory can be piped; a failure part-way ends
		// the output short and the command with an error.
		_, err := c.Read(ctx, id, e.stdout)
		return err
	}
	size, err := c.BlobSize(ctx, id)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(*out), "."+filepath.Base(*out)+".part*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	bar := newProgress(e.stderr, "reading "+id.String()[:8], int64(size))
	n, err := c.Read(ctx, id, &countingWriter{w: tmp, total: int64(size), bar: bar})
	bar.finish()
	if err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), *out); err != nil {
		return err
	}
	if *cf.asJSON {
		return printJSON(e.stdout, map[string]any{"blobId": id, "out": *out, "size": n})
	}
	fmt.Fprintf(e.stderr, "blob %s (%s) written to %s\n", id, humanBytes(uint64(n)), *out)
	return nil
}

// fileBlobID computes a file's blob ID for the network's shard count.
func fileBlobID(ctx context.Context, c *client.Client, path string) (blob.ID, error) {
	info, err := c.Info(ctx)
	if err != nil {
		return blob.ID{}, err
	}
	enc, err := redstuff.New(info.Params.NShards)
	if err != nil {
		return blob.ID{}, err
	}
	res, err := blobIDOfFile(enc, path)
	if err != nil {
		return blob.ID{}, err
	}
	return blob.ParseID(res.BlobID)
}

func runBlobStatus(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "blob-status")
	cf := addClientFlags(fs)
	idFlag := fs.String("blob-id", "", "blob ID")
	file := fs.String("file", "", "file whose blob ID to look up")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if *idFlag == "" && len(pos) == 1 {
		*idFlag = pos[0]
	}
	if (*idFlag == "") == (*file == "") {
		return usagef("usage: floe blob-status --blob-id ID | --file FILE [--json]")
	}
	c, err := openClient(ctx, e, cf)
	if err != nil {
		return err
	}
	defer c.Close()
	var id blob.ID
	if *file != "" {
		if id, err = fileBlobID(ctx, c, *file); err != nil {
			return err
		}
	} else if id, err = blob.ParseID(*idFlag); err != nil {
		return usagef("blob ID %q: %v", *idFlag, err)
	}
	st, err := c.Status(ctx, id)
	if err != nil {
		return err
	}
	if *cf.asJSON {
		return printJSON(e.stdout, st)
	}
	fmt.Fprintf(e.stdout, "blob ID    %s\n", id)
	switch st.Status {
	case client.StatusPermanent:
		cert := "registered, not certified"
		if st.IsCertified {
			cert = "certified"
		}
		fmt.Fprintf(e.stdout, "status     permanent, %s, until epoch %d (exclusive; current epoch %d)\n", cert, st.EndEpoch, st.Epoch)
		if st.InitialCertifiedEpoch != nil {
			fmt.Fprintf(e.stdout, "certified  in epoch %d\n", *st.InitialCertifiedEpoch)
		}
		if st.Event != nil {
			fmt.Fprintf(e.stdout, "event      %s #%s\n", st.Event.TxDigest, st.Event.EventSeq)
		}
	case client.StatusInvalid:
		fmt.Fprintf(e.stdout, "status     invalid since epoch %d\n", st.InvalidEpoch)
	default:
		if st.DeletableCounts.Total == 0 {
			fmt.Fprintln(e.stdout, "status     nonexistent")
			break
		}
		fmt.Fprintf(e.stdout, "status     deletable: %d objects registered, %d certified (current epoch %d)\n",
			st.DeletableCounts.Total, st.DeletableCounts.Certified, st.Epoch)
	}
	return nil
}

func runListBlobs(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "list-blobs")
	cf := addClientFlags(fs)
	owner := fs.String("owner", "", "account whose blobs to list (default: the wallet's)")
	includeExpired := fs.Bool("include-expired", false, "list expired blob objects too")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	c, err := openClient(ctx, e, cf)
	if err != nil {
		return err
	}
	defer c.Close()
	var who *crypto.Address
	if *owner != "" {
		a, err := crypto.ParseAddress(*owner)
		if err != nil {
			return usagef("--owner: %v", err)
		}
		who = &a
	}
	blobs, err := c.ListBlobs(ctx, (*client.Address)(who))
	if err != nil {
		return err
	}
	info, err := c.Info(ctx)
	if err != nil {
		return err
	}
	live := blobs[:0:0]
	for _, b := range blobs {
		if *includeExpired || b.Storage.End > info.Epoch {
			live = append(live, b)
		}
	}
	if *cf.asJSON {
		return printJSON(e.stdout, live)
	}
	if len(live) == 0 {
		fmt.Fprintln(e.stdout, "no blobs")
		return nil
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "blob ID\tsize\tcertified\tdeletable\texpiry epoch\tobject ID")
	for _, b := range live {
		cert := "no"
		if b.Certified {
			cert = fmt.Sprintf("epoch %d", b.CertifiedEpoch)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%v\t%d\t%s\n", b.BlobID, humanBytes(b.Size), cert, b.Deletable, b.Storage.End, b.ID)
	}
	return w.Flush()
}

// splitList splits a comma-separated flag value.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func runDelete(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "delete")
	cf := addClientFlags(fs)
	objectIDs := fs.String("object-ids", "", "blob object IDs to delete (comma-separated)")
	blobIDs := fs.String("blob-ids", "", "blob IDs whose owned deletable objects to delete (comma-separated)")
	fs.Bool("yes", false, "accepted for compatibility (floe delete does not ask)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	var objects []protocol.ObjectID
	for _, s := range append(splitList(*objectIDs), pos...) {
		id, err := protocol.ParseObjectID(s)
		if err != nil {
			return usagef("object ID %q: %v", s, err)
		}
		objects = append(objects, id)
	}
	var wantBlobs []blob.ID
	for _, s := range splitList(*blobIDs) {
		id, err := blob.ParseID(s)
		if err != nil {
			return usagef("blob ID %q: %v", s, err)
		}
		wantBlobs = append(wantBlobs, id)
	}
	if len(objects) == 0 && len(wantBlobs) == 0 {
		return usagef("usage: floe delete --object-ids ID,... | --blob-ids ID,... [--json]")
	}
	c, err := openClient(ctx, e, cf)
	if err != nil {
		return err
	}
	defer c.Close()
	if len(wantBlobs) > 0 {
		owned, err := c.ListBlobs(ctx, nil)
		if err != nil {
			return err
		}
		for _, want := range wantBlobs {
			found := false
			for _, b := range owned {
				if b.BlobID == want && b.Deletable {
					objects, found = append(objects, protocol.ObjectID(b.ID)), true
				}
			}
			if !found {
				return fmt.Errorf("%w: the wallet owns no deletable object of blob %s", client.ErrBlobNotFound, want)
			}
		}
	}
	type deleted struct {
		ObjectID protocol.ObjectID `json:"objectId"`
		BlobID   blob.ID           `json:"blobId"`
	}
	var done []deleted
	for _, oid := range objects {
		b, err := c.BlobByObjectID(ctx, client.ObjectID(oid))
		if err != nil {
			return err
		}
		if err := c.Delete(ctx, client.ObjectID(oid)); err != nil {
			return fmt.Errorf("deleting %s: %w", oid, err)
		}
		done = append(done, deleted{ObjectID: oid, BlobID: b.BlobID})
		if !*cf.asJSON {
			fmt.Fprintf(e.stdout, "deleted object %s (blob %s)\n", oid, b.BlobID)
		}
	}
	if *cf.asJSON {
		return printJSON(e.stdout, done)
	}
	return nil
}

func runExtend(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "extend")
	cf := addClientFlags(fs)
	objID := fs.String("blob-obj-id", "", "blob object ID")
	epochs := fs.Uint("epochs-extended", 0, "epochs to add")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if *objID == "" && len(pos) == 1 {
		*objID = pos[0]
	}
	if *objID == "" || *epochs == 0 || *epochs > 1<<32-1 {
		return usagef("usage: floe extend --blob-obj-id ID --epochs-extended N [--json]")
	}
	oid, err := protocol.ParseObjectID(*objID)
	if err != nil {
		return usagef("--blob-obj-id: %v", err)
	}
	c, err := openClient(ctx, e, cf)
	if err != nil {
		return err
	}
	defer c.Close()
	res, err := c.Extend(ctx, client.ObjectID(oid), uint32(*epochs))
	if err != nil {
		return err
	}
	if *cf.asJSON {
		return printJSON(e.stdout, res)
	}
	fmt.Fprintf(e.stdout, "extended object %s (blob %s) until epoch %d (exclusive), cost %s\n", oid, res.Blob.BlobID, res.Blob.Storage.End, humanCost(res.Cost))
	return nil
}
