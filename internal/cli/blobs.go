package cli

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	api "github.com/floelabs/floe/api/daemon"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/client"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/daemon"
	"github.com/floelabs/floe/internal/protocol"
	"github.com/floelabs/floe/redstuff"
)

func storeCommand() command {
	return command{name: "store", aliases: []string{"write"}, run: runStore,
		summary: "store files as blobs: store FILE... --epochs N|max | --end-epoch E | --earliest-expiry-time T [--permanent] [--force] [--dry-run]"}
}

func readCommand() command {
	return command{name: "read", summary: "read a blob: read BLOB_ID [--out FILE]", run: runRead}
}

func blobStatusCommand() command {
	return command{name: "blob-status", summary: "status of a blob: blob-status --blob-id ID | --file FILE", run: runBlobStatus}
}

func listBlobsCommand() command {
	return command{name: "list-blobs", summary: "the blob objects the wallet (or --owner) owns: list-blobs [--include-expired]", run: runListBlobs}
}

func deleteCommand() command {
	return command{name: "delete", summary: "delete deletable blobs: delete --blob-id ID | --file FILE | --object-id ID (repeatable) [--yes] [--no-status-check]", run: runDelete}
}

func extendCommand() command {
	return command{name: "extend", summary: "extend a blob's lifetime: extend --blob-obj-id ID --epochs-extended N", run: runExtend}
}

// given reports whether flag name was set on the command line.
func given(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// lifetime is a store's requested lifetime: exactly one of Walrus's three ways.
type lifetime struct {
	epochs   string // "N" or "max"
	endEpoch uint64
	earliest string
}

func addLifetimeFlags(fs *flag.FlagSet) *lifetime {
	l := &lifetime{}
	fs.StringVar(&l.epochs, "epochs", "", "epochs to store for from the current one: a positive number, or max")
	fs.Uint64Var(&l.endEpoch, "end-epoch", 0, "the end epoch (exclusive), after the current epoch")
	fs.StringVar(&l.earliest, "earliest-expiry-time", "", "the earliest time the blob may expire: RFC 3339 (2024-03-20T15:00:00Z) or 2024-03-20 15:00:00 (UTC)")
	return l
}

// check validates the flags' form before anything is read or encoded.
func (l *lifetime) check(fs *flag.FlagSet) error {
	n := 0
	for _, f := range []string{"epochs", "end-epoch", "earliest-expiry-time"} {
		if given(fs, f) {
			n++
		}
	}
	if n != 1 {
		return usagef("exactly one of --epochs, --earliest-expiry-time or --end-epoch must be given")
	}
	if given(fs, "epochs") && l.epochs != "max" {
		v, err := strconv.ParseUint(l.epochs, 10, 32)
		if err != nil || v == 0 {
			return usagef("--epochs %q: invalid epoch count; give a number > 0 or max", l.epochs)
		}
	}
	if given(fs, "earliest-expiry-time") {
		if _, err := parseExpiryTime(l.earliest); err != nil {
			return usagef("--earliest-expiry-time: %v", err)
		}
	}
	return nil
}

// parseExpiryTime parses RFC 3339 or the relaxed "2024-03-20 15:00:00" (UTC), as Walrus's
// humantime::parse_rfc3339_weak.
func parseExpiryTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00",
		"2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05Z", "2006-01-02 15:04:05Z"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time in RFC 3339 (2024-03-20T15:00:00Z) or 2024-03-20 15:00:00 form", s)
}

// epochsAhead resolves the lifetime against the network (Walrus's get_epochs_ahead).
func (l *lifetime) epochsAhead(fs *flag.FlagSet, info *client.Info, now time.Time) (uint32, error) {
	maxAhead := info.Params.MaxEpochsAhead
	var epochs uint64
	switch {
	case given(fs, "epochs") && l.epochs == "max":
		return maxAhead, nil
	case given(fs, "epochs"):
		epochs, _ = strconv.ParseUint(l.epochs, 10, 32)
	case given(fs, "end-epoch"):
		if l.endEpoch <= uint64(info.Epoch) {
			return 0, usagef("--end-epoch %d must be greater than the current epoch %d", l.endEpoch, info.Epoch)
		}
		epochs = l.endEpoch - uint64(info.Epoch)
	default:
		t, _ := parseExpiryTime(l.earliest)
		start := time.UnixMilli(info.EpochStartMs)
		if !t.After(start) || !t.After(now) {
			return 0, usagef("--earliest-expiry-time must be later than the start of the current epoch (%s) and the current time", rfc3339(start))
		}
		epochs = uint64(t.Sub(start).Milliseconds())/uint64(info.Params.EpochDurationMs) + 1
	}
	if epochs > uint64(maxAhead) {
		return 0, usagef("blobs can only be stored for up to %d epochs ahead; %d epochs were requested", maxAhead, epochs)
	}
	return uint32(epochs), nil
}

// storeFlags are the flags store and store-quilt share (Walrus's store options).
type storeFlags struct {
	life                               *lifetime
	force, deletable, permanent, share *bool
	encoding, relay, sendTo            *string
	plural                             string
}

// addStoreFlags adds the shared store flags; singular and plural name what is stored in
// their help and errors ("blob", "blobs").
func addStoreFlags(fs *flag.FlagSet, singular, plural string) *storeFlags {
	f := &storeFlags{life: addLifetimeFlags(fs), plural: plural}
	f.force = fs.Bool("force", false, "store even if the "+singular+" is already certified long enough")
	fs.Bool("ignore-resources", false, "accepted for Walrus compatibility (Floe reads the wallet's resources in one query)")
	f.deletable = fs.Bool("deletable", false, "store deletable "+plural+" (the default)")
	f.permanent = fs.Bool("permanent", false, "store permanent "+plural+" (default: deletable)")
	f.share = fs.Bool("share", false, "put the stored "+plural+" into shared blob objects (needs --permanent)")
	f.encoding = fs.String("encoding-type", "", "the encoding (only RS2)")
	f.relay = fs.String("upload-relay", "", "Walrus upload relay URL (not supported by Floe)")
	fs.Bool("skip-tip-confirmation", false, "accepted for Walrus compatibility (no upload relay)")
	fs.Bool("child-process-uploads", false, "accepted for Walrus compatibility (Floe finishes the uploads before it returns)")
	f.sendTo = fs.String("send-object-to", "", "address that receives the blob objects of the stored "+plural)
	return f
}

// options checks the flags' form (before anything is read or encoded) and returns the store
// options; the epochs are resolved against the network by openForStore.
func (f *storeFlags) options(fs *flag.FlagSet) (client.StoreOptions, error) {
	if err := f.life.check(fs); err != nil {
		return client.StoreOptions{}, err
	}
	switch {
	case *f.deletable && *f.permanent:
		return client.StoreOptions{}, usagef("--deletable and --permanent cannot be used together")
	case *f.encoding != "" && !strings.EqualFold(*f.encoding, api.EncodingTypeRS2):
		return client.StoreOptions{}, usagef("--encoding-type %q: only RS2 is supported", *f.encoding)
	case *f.relay != "":
		return client.StoreOptions{}, usagef("--upload-relay: Floe has no upload relay; store directly or through a publisher")
	case *f.share && !*f.permanent:
		return client.StoreOptions{}, usagef("deletable %s cannot be shared (add --permanent)", f.plural)
	}
	opts := client.StoreOptions{Permanent: *f.permanent, Force: *f.force}
	if *f.sendTo != "" {
		a, err := client.ParseAddress(*f.sendTo)
		if err != nil {
			return opts, usagef("--send-object-to: %v", err)
		}
		opts.SendObjectTo = &a
	}
	return opts, nil
}

// openForStore connects and resolves the lifetime against the network into opts.Epochs
// (refused, with the network's maximum, before anything is encoded); the caller closes the
// client.
func (f *storeFlags) openForStore(ctx context.Context, e *env, cf clientFlags, fs *flag.FlagSet, opts *client.StoreOptions) (*client.Client, *client.Info, error) {
	c, err := openClient(ctx, e, cf)
	if err != nil {
		return nil, nil, err
	}
	info, err := c.Info(ctx)
	if err == nil {
		opts.Epochs, err = f.life.epochsAhead(fs, info, time.Now())
	}
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return c, info, nil
}

func runStore(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "store")
	cf := addClientFlags(fs)
	sf := addStoreFlags(fs, "blob", "blobs")
	dryRun := fs.Bool("dry-run", false, "print the blob IDs, sizes and the cost of storing them as new blobs; store nothing")
	files, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef("usage: floe store FILE... --epochs N|max | --end-epoch E | --earliest-expiry-time T [--permanent] [--force] [--dry-run] [--json]")
	}
	opts, err := sf.options(fs)
	if err != nil {
		return err
	}
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			return err
		}
	}
	c, info, err := sf.openForStore(ctx, e, cf, fs, &opts)
	if err != nil {
		return err
	}
	defer c.Close()
	if *dryRun {
		return storeDryRun(ctx, e, c, info, files, opts.Epochs, *cf.asJSON)
	}
	var outs []storeOutput
	failed := 0
	for _, path := range files {
		res, err := storeFile(ctx, e, c, path, opts)
		if err == nil && *sf.share && res.NewlyCreated != nil {
			if err = c.Share(ctx, client.ObjectID(mustObjectID(res.NewlyCreated.BlobObject.ID)), 0); err == nil {
				res.NewlyCreated.SharedBlobObject = res.NewlyCreated.BlobObject.ID
			} else {
				err = fmt.Errorf("stored as object %s, but sharing it failed: %w", res.NewlyCreated.BlobObject.ID, err)
			}
		}
		if err != nil {
			failed++
			msg := err.Error()
			res = &api.BlobStoreResult{Error: &api.StoreError{FailurePhase: "store", ErrorMsg: msg}}
			if !*cf.asJSON {
				fmt.Fprintf(e.stdout, "Error: storing blob failed.\nPath: %s\nError: %s\n\n", path, msg)
			}
		} else if !*cf.asJSON {
			printStoreResult(e, path, res)
		}
		outs = append(outs, storeOutput{BlobStoreResult: res, Path: path})
	}
	if *cf.asJSON {
		if err := printJSON(e.stdout, outs); err != nil {
			return err
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d files could not be stored", failed, len(files))
	}
	return nil
}

// mustObjectID parses an object ID the SDK printed.
func mustObjectID(s string) protocol.ObjectID {
	id, err := protocol.ParseObjectID(s)
	if err != nil {
		panic(err)
	}
	return id
}

func storeFile(ctx context.Context, e *env, c *client.Client, path string, opts client.StoreOptions) (*api.BlobStoreResult, error) {
	// A file larger than the client's SpillAbove is encoded from where it is, in bounded
	// memory (client.Store of an *os.File).
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	rep := newStoreReporter(e.stderr, isTerminal(e.stderr), filepath.Base(path), st.Size())
	res, err := c.Store(ctx, f, rep.options(opts))
	rep.finish()
	if err != nil {
		return nil, err
	}
	return daemon.StoreResultJSON(res), nil
}

func printStoreResult(e *env, path string, r *api.BlobStoreResult) {
	switch {
	case r.AlreadyCertified != nil:
		ac := r.AlreadyCertified
		ref := "Owned blob object ID: " + ac.Object
		if ac.Event != nil {
			ref = fmt.Sprintf("Certification event ID: %s #%s", ac.Event.TxDigest, ac.Event.EventSeq)
		}
		fmt.Fprintf(e.stdout, "Success: Blob was already available and certified within Floe, for a sufficient number of epochs.\n"+
			"Path: %s\nBlob ID: %s\n%s\nExpiry epoch (exclusive): %d\n\n", path, ac.BlobID, ref, ac.EndEpoch)
	case r.NewlyCreated != nil:
		nc := r.NewlyCreated
		kind := "Deletable"
		if !nc.BlobObject.Deletable {
			kind = "Permanent"
		}
		op := "(storage was purchased, and a new blob object was registered)"
		switch {
		case nc.ResourceOperation.ReuseStorage != nil:
			op = "(already-owned storage was reused, and a new blob object was registered)"
		case nc.ResourceOperation.ReuseRegistration != nil:
			op = "(an existing registration was reused)"
		}
		encoded := uint64(0)
		switch ro := nc.ResourceOperation; {
		case ro.RegisterFromScratch != nil:
			encoded = ro.RegisterFromScratch.EncodedLength
		case ro.ReuseStorage != nil:
			encoded = ro.ReuseStorage.EncodedLength
		case ro.ReuseRegistration != nil:
			encoded = ro.ReuseRegistration.EncodedLength
		}
		fmt.Fprintf(e.stdout, "Success: %s blob stored successfully.\nPath: %s\nBlob ID: %s\nObject ID: %s\nUnencoded size: %s\n"+
			"Encoded size (including replicated metadata): %s\nCost: %s %s\nExpiry epoch (exclusive): %d\nEncoding type: %s\n\n",
			kind, path, nc.BlobObject.BlobID, nc.BlobObject.ID, humanBytes(nc.BlobObject.Size), humanBytes(encoded), humanCost(nc.Cost), op,
			nc.BlobObject.Storage.EndEpoch, nc.BlobObject.EncodingType)
	}
}

func storeDryRun(ctx context.Context, e *env, c *client.Client, info *client.Info, files []string, epochs uint32, asJSON bool) error {
	enc, err := redstuff.New(info.Params.NShards)
	if err != nil {
		return err
	}
	var outs []dryRunOutput
	for _, path := range files {
		res, err := blobIDOfFile(enc, path)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		cost, err := c.StoreCost(ctx, res.UnencodedLength, epochs)
		if err != nil {
			return err
		}
		o := dryRunOutput{Path: path, BlobID: res.BlobID, UnencodedSize: res.UnencodedLength, EncodedSize: cost.EncodedLength,
			StorageCost: cost.Total, EncodingType: api.EncodingTypeRS2}
		outs = append(outs, o)
		if !asJSON {
			fmt.Fprintf(e.stdout, "Success: Store dry-run succeeded.\nPath: %s\nBlob ID: %s\nEncoding type: %s\nUnencoded size: %s\n"+
				"Encoded size (including replicated metadata): %s\nCost to store as new blob for %d epochs: %s\n\n",
				o.Path, o.BlobID, o.EncodingType, humanBytes(o.UnencodedSize), humanBytes(o.EncodedSize), epochs, humanCost(o.StorageCost))
		}
	}
	if asJSON {
		return printJSON(e.stdout, outs)
	}
	return nil
}

// consistencyFlags are Walrus's read flags for the consistency check.
func consistencyFlags(fs *flag.FlagSet) (strict, skip *bool) {
	strict = fs.Bool("strict-consistency-check", false, "run the strict consistency check (re-encode the whole blob and compare its blob ID)")
	skip = fs.Bool("skip-consistency-check", false, "skip the consistency check (authentication of the slivers still runs)")
	return strict, skip
}

// readOptionsFrom turns the consistency flags into the SDK's read options.
func readOptionsFrom(strict, skip bool) (client.ReadOptions, error) {
	switch {
	case strict && skip:
		return client.ReadOptions{}, usagef("--strict-consistency-check and --skip-consistency-check cannot be used together")
	case strict:
		return client.ReadOptions{Consistency: client.ConsistencyStrict}, nil
	case skip:
		return client.ReadOptions{Consistency: client.ConsistencySkip}, nil
	}
	return client.ReadOptions{Consistency: client.ConsistencyDefault}, nil
}

// openClientAt is openClient with --rpc-url naming the control plane (Walrus's Sui RPC URL)
// and the configuration adjusted by mutate.
func openClientAt(ctx context.Context, e *env, cf clientFlags, rpcURL string, mutate func(*client.Config)) (*client.Client, error) {
	cfg, path, err := loadClientConfig(cf)
	if err != nil {
		return nil, err
	}
	if rpcURL != "" {
		cfg.ControlPlaneURL = rpcURL
	}
	if mutate != nil {
		mutate(cfg)
	}
	if *cf.verbose {
		cfg.Logger = newVerboseLogger(e)
	}
	c, err := client.New(ctx, *cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting with %s: %w", path, err)
	}
	return c, nil
}

func runRead(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "read")
	cf := addClientFlags(fs)
	out := fs.String("out", "", "file to write the blob to (default: standard output)")
	rpcURL := fs.String("rpc-url", "", "control plane URL (default: the configuration's)")
	strict, skip := consistencyFlags(fs)
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
	ro, err := readOptionsFrom(*strict, *skip)
	if err != nil {
		return err
	}
	c, err := openClientAt(ctx, e, cf, *rpcURL, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	if *out == "" && *cf.asJSON {
		data, err := c.ReadBytes(ctx, id, ro)
		if err != nil {
			return err
		}
		return printJSON(e.stdout, readOutput{BlobID: id.String(), Blob: data})
	}
	if *out == "" {
		// Streamed, so that a blob larger than memory can be piped; a failure part-way ends
		// the output short and the command with an error.
		_, err := c.Read(ctx, id, e.stdout, ro)
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
	n, err := c.Read(ctx, id, &countingWriter{w: tmp, total: int64(size), bar: bar}, ro)
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
		return printJSON(e.stdout, readOutput{Out: *out, BlobID: id.String()})
	}
	fmt.Fprintf(e.stdout, "Success: Blob %s reconstructed from Floe and written to %s (%s).\n", id, *out, humanBytes(uint64(n)))
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
	timeout := fs.Duration("timeout", time.Second, "timeout of the status requests to storage nodes")
	rpcURL := fs.String("rpc-url", "", "control plane URL (default: the configuration's)")
	encoding := fs.String("encoding-type", "", "the encoding (only RS2)")
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
	if *encoding != "" && !strings.EqualFold(*encoding, api.EncodingTypeRS2) {
		return usagef("--encoding-type %q: only RS2 is supported", *encoding)
	}
	var id blob.ID
	if *idFlag != "" {
		if id, err = blob.ParseID(*idFlag); err != nil {
			return usagef("blob ID %q: %v", *idFlag, err)
		}
	}
	c, err := openClientAt(ctx, e, cf, *rpcURL, func(cfg *client.Config) {
		if *timeout > 0 {
			cfg.Communication.StatusTimeout = *timeout
		}
	})
	if err != nil {
		return err
	}
	defer c.Close()
	if *file != "" {
		if id, err = fileBlobID(ctx, c, *file); err != nil {
			return err
		}
	}
	st, err := c.Status(ctx, id)
	if err != nil {
		return err
	}
	out := blobStatusOutput{BlobID: id.String(), File: *file, Status: walrusStatus(st)}
	var expiry time.Time
	if st.Status == client.StatusPermanent {
		info, err := c.Info(ctx)
		if err != nil {
			return err
		}
		if st.EndEpoch > info.Epoch {
			expiry = time.UnixMilli(info.EpochStartMs).Add(time.Duration(st.EndEpoch-info.Epoch) * time.Duration(info.Params.EpochDurationMs) * time.Millisecond)
			s := rfc3339(expiry)
			out.EstimatedExpiryTimestamp = &s
		}
	}
	if *cf.asJSON {
		return printJSON(e.stdout, out)
	}
	name := id.String()
	if *file != "" {
		name += " (file: " + *file + ")"
	}
	switch st.Status {
	case client.StatusPermanent:
		state := "registered"
		if st.IsCertified {
			state = "certified"
		}
		fmt.Fprintf(e.stdout, "There is a %s permanent blob object for blob ID %s.\nExpiry epoch: %d\n", state, name, st.EndEpoch)
		if !expiry.IsZero() {
			fmt.Fprintf(e.stdout, "Estimated expiry timestamp: %s\n", rfc3339(expiry))
		}
		ev := eventOf(st.Event)
		fmt.Fprintf(e.stdout, "Related event: %s #%s\n", ev.TxDigest, ev.EventSeq)
		if st.InitialCertifiedEpoch != nil {
			fmt.Fprintf(e.stdout, "Initially certified in epoch: %d\n", *st.InitialCertifiedEpoch)
		}
		if n := st.DeletableCounts.Certified; n > 0 {
			fmt.Fprintf(e.stdout, "There are also %d certified deletable blob objects for this blob ID.\n", n)
		}
	case client.StatusInvalid:
		fmt.Fprintf(e.stdout, "Blob ID %s is invalid (marked in epoch %d).\n", name, st.InvalidEpoch)
	case client.StatusDeletable:
		initial := ""
		if st.InitialCertifiedEpoch != nil {
			initial = fmt.Sprintf(", initially certified in epoch %d", *st.InitialCertifiedEpoch)
		}
		fmt.Fprintf(e.stdout, "Blob ID %s is registered on Floe, but only in one or more deletable blob objects:\n"+
			"Total number of certified objects: %d (of %d registered%s)\n", name, st.DeletableCounts.Certified, st.DeletableCounts.Total, initial)
	default:
		fmt.Fprintf(e.stdout, "Blob ID %s is not stored on Floe.\n", name)
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
		return printJSON(e.stdout, walrusBlobs(live))
	}
	if len(live) == 0 {
		fmt.Fprintln(e.stdout, "no blobs")
		return nil
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "Blob ID\tUnencoded size\tCertified?\tDeletable?\tExp. epoch\tObject ID")
	for _, b := range live {
		fmt.Fprintf(w, "%s\t%s\t%v\t%v\t%d\t%s\n", b.BlobID, humanBytes(b.Size), b.Certified, b.Deletable, b.Storage.End, b.ID)
	}
	return w.Flush()
}

// confirm asks on standard error and reads the answer from standard input (no answer: no).
func confirm(e *env, question string) bool {
	fmt.Fprintf(e.stderr, "%s\nDo you want to proceed? [y/N]\n", question)
	line, _ := bufio.NewReader(e.stdin).ReadString('\n')
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(line)), "y")
}

func strPtr(s string) *string { return &s }

func runDelete(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "delete")
	cf := addClientFlags(fs)
	files := listVar(fs, "files whose blob IDs to delete (repeatable)", false, "files", "file")
	blobIDs := listVar(fs, "blob IDs whose owned deletable objects to delete (repeatable)", true, "blob-ids", "blob-id")
	objectIDs := listVar(fs, "blob object IDs to delete (repeatable)", true, "object-ids", "object-id")
	yes := fs.Bool("yes", false, "delete without asking for confirmation")
	noStatus := fs.Bool("no-status-check", false, "do not check the blob's status after the deletion")
	encoding := fs.String("encoding-type", "", "the encoding (only RS2)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if *encoding != "" && !strings.EqualFold(*encoding, api.EncodingTypeRS2) {
		return usagef("--encoding-type %q: only RS2 is supported", *encoding)
	}
	*objectIDs = append(*objectIDs, pos...)
	type target struct {
		identity blobIdentity
		blobID   *blob.ID
		objectID *protocol.ObjectID
	}
	var targets []target
	var parsedBlobIDs []blob.ID
	for _, s := range *blobIDs {
		id, err := blob.ParseID(s)
		if err != nil {
			return usagef("blob ID %q: %v", s, err)
		}
		parsedBlobIDs = append(parsedBlobIDs, id)
	}
	var parsedObjects []protocol.ObjectID
	for _, s := range *objectIDs {
		id, err := protocol.ParseObjectID(s)
		if err != nil {
			return usagef("object ID %q: %v", s, err)
		}
		parsedObjects = append(parsedObjects, id)
	}
	if len(*files)+len(parsedBlobIDs)+len(parsedObjects) == 0 {
		return usagef("no files, blob IDs, or object IDs specified (--file, --blob-id, --object-id)")
	}
	c, err := openClient(ctx, e, cf)
	if err != nil {
		return err
	}
	defer c.Close()
	for _, f := range *files {
		id, err := fileBlobID(ctx, c, f)
		if err != nil {
			return err
		}
		targets = append(targets, target{identity: blobIdentity{BlobID: strPtr(id.String()), File: strPtr(f)}, blobID: &id})
	}
	for i := range parsedBlobIDs {
		id := parsedBlobIDs[i]
		targets = append(targets, target{identity: blobIdentity{BlobID: strPtr(id.String())}, blobID: &id})
	}
	for i := range parsedObjects {
		id := parsedObjects[i]
		targets = append(targets, target{identity: blobIdentity{ObjectID: strPtr(id.String())}, objectID: &id})
	}
	info, err := c.Info(ctx)
	if err != nil {
		return err
	}
	var outs []deleteOutput
	failed := 0
	for _, t := range targets {
		out := deleteOutput{BlobIdentity: t.identity, DeletedBlobs: []api.BlobObject{}}
		fail := func(err error) {
			out.Error = strPtr(err.Error())
			failed++
		}
		owned, err := c.ListBlobs(ctx, nil)
		if err != nil {
			fail(err)
			outs = append(outs, out)
			continue
		}
		var todo []client.Blob
		for _, b := range owned {
			if b.Storage.End <= info.Epoch {
				continue
			}
			if (t.blobID != nil && b.BlobID == *t.blobID && b.Deletable) || (t.objectID != nil && b.ID == client.ObjectID(*t.objectID)) {
				todo = append(todo, b)
			}
		}
		switch {
		case len(todo) == 0:
			out.NoBlobFound = true
		case t.blobID != nil && !*yes && !*cf.asJSON && !confirm(e, fmt.Sprintf("The following blobs with blob ID %s are deletable:\n%s", t.blobID, objectList(todo))):
			out.Aborted = true
		default:
			for _, b := range todo {
				if err := c.Delete(ctx, b.ID); err != nil {
					fail(fmt.Errorf("deleting %s: %w", b.ID, err))
					break
				}
				out.DeletedBlobs = append(out.DeletedBlobs, walrusBlob(&b))
			}
			if out.Error == nil && t.blobID != nil && !*noStatus {
				st, err := c.Status(ctx, *t.blobID)
				if err != nil {
					fail(fmt.Errorf("failed to get post-deletion status: %w", err))
				} else {
					ws := walrusStatus(st)
					out.PostDeletionStatus = &ws
				}
			}
		}
		outs = append(outs, out)
	}
	if *cf.asJSON {
		if err := printJSON(e.stdout, outs); err != nil {
			return err
		}
	} else {
		printDeleteOutputs(e, outs)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d deletions failed", failed, len(outs))
	}
	return nil
}

func objectList(bs []client.Blob) string {
	var s []string
	for _, b := range bs {
		s = append(s, b.ID.String())
	}
	return strings.Join(s, "\n")
}

func printDeleteOutputs(e *env, outs []deleteOutput) {
	ok := 0
	for _, o := range outs {
		var who []string
		if o.BlobIdentity.BlobID != nil {
			who = append(who, "blob ID: "+*o.BlobIdentity.BlobID)
		}
		if o.BlobIdentity.File != nil {
			who = append(who, "file: "+*o.BlobIdentity.File)
		}
		if o.BlobIdentity.ObjectID != nil {
			who = append(who, "object ID: "+*o.BlobIdentity.ObjectID)
		}
		fmt.Fprintf(e.stdout, "\nDelete result for: %s\n", strings.Join(who, " "))
		switch {
		case o.Error != nil:
			fmt.Fprintf(e.stdout, "Error: %s\n", *o.Error)
		case o.Aborted:
			fmt.Fprintln(e.stdout, "Operation aborted. No blobs were deleted.")
		case o.NoBlobFound:
			fmt.Fprintln(e.stdout, "No owned deletable blob found.")
		default:
			ok++
			fmt.Fprintf(e.stdout, "%d blob object(s) deleted:\n", len(o.DeletedBlobs))
			for _, b := range o.DeletedBlobs {
				fmt.Fprintf(e.stdout, "  object %s (blob %s, %s)\n", b.ID, b.BlobID, humanBytes(b.Size))
			}
			if o.PostDeletionStatus != nil {
				if o.PostDeletionStatus.Permanent == nil && o.PostDeletionStatus.Deletable == nil && o.PostDeletionStatus.Invalid == nil {
					fmt.Fprintln(e.stdout, "The blob is no longer stored on Floe.")
				} else {
					fmt.Fprintln(e.stdout, "The blob is still stored on Floe by other objects.")
				}
			}
		}
	}
	if ok == len(outs) {
		fmt.Fprintf(e.stdout, "\nSuccess: All %d deletion operations completed successfully.\n", len(outs))
	} else {
		fmt.Fprintf(e.stdout, "\nWarning: %d/%d deletion operations completed successfully.\n", ok, len(outs))
	}
}

func runExtend(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "extend")
	cf := addClientFlags(fs)
	objID := fs.String("blob-obj-id", "", "blob object ID")
	shared := fs.Bool("shared", false, "the object is a shared blob")
	epochs := fs.Uint("epochs-extended", 1, "epochs to add")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if *objID == "" && len(pos) == 1 {
		*objID = pos[0]
	}
	if *objID == "" || *epochs == 0 || *epochs > 1<<32-1 {
		return usagef("usage: floe extend --blob-obj-id ID [--epochs-extended N] [--json]")
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
	b, err := c.BlobByObjectID(ctx, client.ObjectID(oid))
	if err != nil {
		return err
	}
	switch {
	case *shared && !b.Shared:
		return fmt.Errorf("%w: %s (leave out --shared)", client.ErrNotShared, oid)
	case !*shared && b.Shared:
		return usagef("blob object %s is shared: add --shared (its funds pay the extension)", oid)
	}
	res, err := c.Extend(ctx, client.ObjectID(oid), uint32(*epochs))
	if err != nil {
		return err
	}
	if *cf.asJSON {
		return printJSON(e.stdout, extendOutput{EpochsExtended: uint32(*epochs)})
	}
	fmt.Fprintf(e.stdout, "Success: The blob has been extended by %d epochs (object %s, blob %s, until epoch %d exclusive, cost %s).\n",
		*epochs, oid, res.Blob.BlobID, res.Blob.Storage.End, humanCost(res.Cost))
	return nil
}
