package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	api "github.com/floelabs/floe/api/daemon"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/client"
	"github.com/floelabs/floe/internal/daemon"
	"github.com/floelabs/floe/quilt"
	"github.com/floelabs/floe/redstuff"
)

func storeQuiltCommand() command {
	return command{name: "store-quilt", aliases: []string{"write-quilt"}, run: runStoreQuilt,
		summary: "store files as one quilt: store-quilt --paths PATH... | --blobs JSON... --epochs N|max | --end-epoch E | --earliest-expiry-time T [--dry-run]"}
}

func readQuiltCommand() command {
	return command{name: "read-quilt", run: runReadQuilt,
		summary: "read quilt patches: read-quilt --quilt-id ID [--identifiers a,b | --tag KEY VALUE] | --quilt-patch-ids P,... [--out DIR]"}
}

func listPatchesCommand() command {
	return command{name: "list-patches-in-quilt", aliases: []string{"resolve-quilt"}, run: runListPatches,
		summary: "the patches of a quilt: list-patches-in-quilt QUILT_ID"}
}

// quiltBlobSpec is one --blobs entry, as Walrus's CLI takes it.
type quiltBlobSpec struct {
	Path       string         `json:"path"`
	Identifier string         `json:"identifier,omitempty"`
	Tags       map[string]any `json:"tags,omitempty"`
}

// quiltStoreOutput is `floe store-quilt --json`, as Walrus's publisher answers PUT /v1/quilts.
type quiltStoreOutput struct {
	BlobStoreResult  *api.BlobStoreResult `json:"blobStoreResult"`
	StoredQuiltBlobs []storedQuiltBlob    `json:"storedQuiltBlobs"`
}

type storedQuiltBlob struct {
	Identifier   string `json:"identifier"`
	QuiltPatchID string `json:"quiltPatchId"`
}

func runStoreQuilt(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "store-quilt")
	cf := addClientFlags(fs)
	paths := listVar(fs, "files or directories (read recursively); each file's name is its identifier", false, "paths")
	blobs := listVar(fs, `JSON objects {"path": ..., "identifier": ..., "tags": {...}}`, false, "blobs")
	sf := addStoreFlags(fs, "quilt", "quilts")
	dryRun := fs.Bool("dry-run", false, "print the quilt's ID, index, sizes and the cost of storing it; store nothing")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(*paths) > 0 && len(*blobs) > 0:
		return usagef("give --paths or --blobs, not both")
	case len(pos) > 0:
		return usagef("unexpected arguments %q (give files with --paths or --blobs)", pos)
	case len(*paths) == 0 && len(*blobs) == 0:
		return usagef("usage: floe store-quilt --paths PATH... | --blobs JSON... --epochs N|max | --end-epoch E | --earliest-expiry-time T [--dry-run] [--json]")
	}
	opts, err := sf.options(fs)
	if err != nil {
		return err
	}
	var patches []quilt.Patch
	if len(*paths) > 0 {
		patches, err = patchesFromPaths(*paths)
	} else {
		patches, err = patchesFromSpecs(*blobs)
	}
	if err != nil {
		return err
	}
	c, info, err := sf.openForStore(ctx, e, cf, fs, &opts)
	if err != nil {
		return err
	}
	defer c.Close()
	if *dryRun {
		return storeQuiltDryRun(ctx, e, c, info, patches, opts.Epochs, *cf.asJSON)
	}
	rep := newStoreReporter(e.stderr, isTerminal(e.stderr), fmt.Sprintf("quilt of %d patches", len(patches)), -1)
	res, err := c.StoreQuilt(ctx, patches, rep.options(opts))
	rep.finish()
	if err != nil {
		return err
	}
	shared := false
	if *sf.share && res.NewlyCreated {
		if err := c.Share(ctx, res.ObjectID, 0); err != nil {
			return fmt.Errorf("quilt stored as object %s, but sharing it failed: %w", res.ObjectID, err)
		}
		shared = true
	}
	if *cf.asJSON {
		out := quiltStoreOutput{BlobStoreResult: daemon.StoreResultJSON(res.StoreResult)}
		if shared && out.BlobStoreResult.NewlyCreated != nil {
			out.BlobStoreResult.NewlyCreated.SharedBlobObject = out.BlobStoreResult.NewlyCreated.BlobObject.ID
		}
		for _, p := range res.Patches {
			out.StoredQuiltBlobs = append(out.StoredQuiltBlobs, storedQuiltBlob{Identifier: p.Identifier, QuiltPatchID: p.PatchID.String()})
		}
		return printJSON(e.stdout, out)
	}
	state := "stored"
	if res.AlreadyCertified {
		state = "already certified"
	} else if shared {
		state = "stored and shared"
	}
	fmt.Fprintf(e.stdout, "quilt %s: %d patches\n  quilt ID   %s\n  object     %s\n  size       %s (encoded %s)\n  end epoch  %d (exclusive)\n  cost       %s\n",
		state, len(res.Patches), res.BlobID, res.ObjectID, humanBytes(res.Size), humanBytes(res.EncodedLength), res.EndEpoch, humanCost(res.Cost))
	for _, p := range res.Patches {
		fmt.Fprintf(e.stdout, "  %s  %s\n", p.PatchID, p.Identifier)
	}
	return nil
}

// quiltDryRunOutput is `floe store-quilt --dry-run --json`, as Walrus's StoreQuiltDryRunOutput:
// the quilt blob's dry run and its index ({"v1": {"quiltPatches": [...]}}).
type quiltDryRunOutput struct {
	QuiltBlobOutput dryRunOutput `json:"quiltBlobOutput"`
	QuiltIndex      struct {
		V1 struct {
			QuiltPatches []quiltIndexPatch `json:"quiltPatches"`
		} `json:"v1"`
	} `json:"quiltIndex"`
}

type quiltIndexPatch struct {
	EndIndex   int               `json:"endIndex"`
	Identifier string            `json:"identifier"`
	Tags       map[string]string `json:"tags"`
}

// storeQuiltDryRun builds the quilt and prints its ID, index, sizes and cost; it stores nothing.
func storeQuiltDryRun(ctx context.Context, e *env, c *client.Client, info *client.Info, patches []quilt.Patch, epochs uint32, asJSON bool) error {
	q, err := quilt.Encode(info.Params.NShards, patches)
	if err != nil {
		return err
	}
	enc, err := redstuff.New(info.Params.NShards)
	if err != nil {
		return err
	}
	md, err := q.Metadata(enc)
	if err != nil {
		return err
	}
	cost, err := c.StoreCost(ctx, uint64(len(q.Data)), epochs)
	if err != nil {
		return err
	}
	var out quiltDryRunOutput
	out.QuiltBlobOutput = dryRunOutput{Path: "n/a", BlobID: md.ID.String(), UnencodedSize: uint64(len(q.Data)), EncodedSize: cost.EncodedLength,
		StorageCost: cost.Total, EncodingType: api.EncodingTypeRS2}
	out.QuiltIndex.V1.QuiltPatches = []quiltIndexPatch{}
	for _, p := range q.Index.Patches {
		tags := p.Tags
		if tags == nil {
			tags = map[string]string{}
		}
		out.QuiltIndex.V1.QuiltPatches = append(out.QuiltIndex.V1.QuiltPatches, quiltIndexPatch{EndIndex: p.End, Identifier: p.Identifier, Tags: tags})
	}
	if asJSON {
		return printJSON(e.stdout, out)
	}
	o := out.QuiltBlobOutput
	fmt.Fprintf(e.stdout, "Success: Store dry-run succeeded.\nQuilt ID: %s\nEncoding type: %s\nUnencoded size: %s\n"+
		"Encoded size (including replicated metadata): %s\nCost to store as new blob for %d epochs: %s\nPatches: %d\n",
		o.BlobID, o.EncodingType, humanBytes(o.UnencodedSize), humanBytes(o.EncodedSize), epochs, humanCost(o.StorageCost), len(q.Index.Patches))
	pids := q.Index.PatchIDs(md.ID)
	for i, p := range q.Index.Patches {
		fmt.Fprintf(e.stdout, "  %s  %s\n", pids[i], p.Identifier)
	}
	return nil
}

// patchesFromPaths reads files, and directories recursively; a file's name is its identifier.
func patchesFromPaths(paths []string) ([]quilt.Patch, error) {
	var patches []quilt.Patch
	seen := map[string]string{}
	add := func(path string) error {
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		id := filepath.Base(path)
		if prev, ok := seen[id]; ok {
			return usagef("%s and %s have the same file name %q, and a file's name is its identifier (use --blobs to name them)", prev, path, id)
		}
		seen[id] = path
		patches = append(patches, quilt.Patch{Identifier: id, Data: data})
		return nil
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			if err := add(p); err != nil {
				return nil, err
			}
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			return add(path)
		})
		if err != nil {
			return nil, err
		}
	}
	return patches, nil
}

// patchesFromSpecs reads --blobs entries.
func patchesFromSpecs(specs []string) ([]quilt.Patch, error) {
	var patches []quilt.Patch
	for _, s := range specs {
		dec := json.NewDecoder(strings.NewReader(s))
		dec.DisallowUnknownFields()
		var spec quiltBlobSpec
		if err := dec.Decode(&spec); err != nil {
			return nil, usagef("--blobs %s: %v", s, err)
		}
		if spec.Path == "" {
			return nil, usagef("--blobs %s: no path", s)
		}
		data, err := os.ReadFile(spec.Path)
		if err != nil {
			return nil, err
		}
		p := quilt.Patch{Identifier: spec.Identifier, Data: data}
		if p.Identifier == "" {
			p.Identifier = filepath.Base(spec.Path)
		}
		if len(spec.Tags) > 0 {
			p.Tags = map[string]string{}
			for k, v := range spec.Tags {
				p.Tags[k] = tagString(v)
			}
		}
		patches = append(patches, p)
	}
	return patches, nil
}

// tagString stringifies a JSON tag value as Walrus does: strings as they are, anything else as
// its JSON text.
func tagString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// quiltReadOutput is `floe read-quilt --json`.
type quiltReadOutput struct {
	Patches []readPatchOutput     `json:"patches"`
	Fetched client.QuiltReadStats `json:"fetched"`
}

type readPatchOutput struct {
	Identifier string            `json:"identifier"`
	PatchID    string            `json:"patchId"`
	Tags       map[string]string `json:"tags,omitempty"`
	Size       int               `json:"size"`
	Out        string            `json:"out,omitempty"`
}

func runReadQuilt(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "read-quilt")
	cf := addClientFlags(fs)
	quiltID := fs.String("quilt-id", "", "the quilt's blob ID")
	idents := listVar(fs, "identifiers of the patches to read (several, or comma-separated)", true, "identifiers", "identifier")
	tag := pairVar(fs, "tag", "read the patches with this tag: KEY VALUE (or KEY=VALUE)")
	pids := listVar(fs, "patch IDs to read (several, or comma-separated)", true, "quilt-patch-ids", "quilt-patch-id", "patch-ids")
	out := fs.String("out", "", "directory to write the patches to, each as its identifier (default: their bytes one after the other on standard output)")
	pos, err := parseFlags(fs, tagPairArgs(args))
	if err != nil {
		return err
	}
	usage := usagef("usage: floe read-quilt --quilt-id ID [--identifiers a,b | --tag KEY VALUE] | --quilt-patch-ids P,... [--out DIR] [--json]")
	switch {
	case len(pos) > 0:
		return usage
	case len(*pids) > 0 && (*quiltID != "" || len(*idents) > 0 || len(*tag) > 0):
		return usagef("--quilt-patch-ids is used alone, without --quilt-id, --identifiers or --tag")
	case len(*pids) == 0 && *quiltID == "":
		return usage
	case len(*idents) > 0 && len(*tag) > 0:
		return usagef("give --identifiers or --tag, not both")
	case len(*tag) > 2:
		return usagef("only one --tag is supported")
	}
	var qid blob.ID
	if *quiltID != "" {
		if qid, err = blob.ParseID(*quiltID); err != nil {
			return usagef("--quilt-id: %v", err)
		}
	}
	var ids []quilt.PatchID
	for _, s := range *pids {
		id, err := quilt.ParsePatchID(s)
		if err != nil {
			return usagef("--quilt-patch-ids: %v", err)
		}
		ids = append(ids, id)
	}
	c, err := openClient(ctx, e, cf)
	if err != nil {
		return err
	}
	defer c.Close()
	var res *client.QuiltReadResult
	switch {
	case len(ids) > 0:
		res, err = c.ReadQuiltPatchesByID(ctx, ids)
	case len(*tag) == 2:
		res, err = c.ReadQuiltPatchesByTag(ctx, qid, (*tag)[0], (*tag)[1])
	case len(*idents) > 0:
		res, err = c.ReadQuiltPatches(ctx, qid, *idents)
	default:
		res, err = c.ReadQuilt(ctx, qid)
	}
	if err != nil {
		return err
	}
	if *out == "" {
		if *cf.asJSON {
			return usagef("--json prints metadata only: give --out DIR")
		}
		// As Walrus: the patches' bytes one after the other, their metadata ignored.
		for _, p := range res.Patches {
			if _, err := e.stdout.Write(p.Data); err != nil {
				return err
			}
		}
		return nil
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	result := quiltReadOutput{Fetched: res.Stats}
	for _, p := range res.Patches {
		name, err := patchFileName(p.Identifier)
		if err != nil {
			return err
		}
		path := filepath.Join(*out, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, p.Data, 0o644); err != nil {
			return err
		}
		result.Patches = append(result.Patches, readPatchOutput{Identifier: p.Identifier, PatchID: p.ID.String(), Tags: p.Tags, Size: len(p.Data), Out: path})
	}
	if *cf.asJSON {
		return printJSON(e.stdout, result)
	}
	for _, p := range result.Patches {
		fmt.Fprintf(e.stdout, "%s (%s) written to %s\n", p.Identifier, humanBytes(uint64(p.Size)), p.Out)
	}
	st := res.Stats
	fmt.Fprintf(e.stderr, "fetched %d column(s), %s of slivers, %s of recovery symbols, %s of metadata%s\n",
		st.Columns, humanBytes(uint64(st.SliverBytes)), humanBytes(uint64(st.SymbolBytes)), humanBytes(uint64(st.MetadataBytes)),
		map[bool]string{true: " (and the whole quilt)", false: ""}[st.FullRead])
	return nil
}

// tagPairArgs rewrites --tag KEY=VALUE (and --tag=KEY=VALUE) as Walrus's --tag KEY VALUE, so
// that read-quilt takes both forms. A --tag whose next argument holds no "=" is left alone.
func tagPairArgs(args []string) []string {
	out := make([]string, 0, len(args)+2)
	for i := 0; i < len(args); i++ {
		tok := args[i]
		if tok == "--" {
			return append(out, args[i:]...)
		}
		name, attached := flagName(tok)
		if name != "tag" || !strings.HasPrefix(tok, "-") {
			out = append(out, tok)
			continue
		}
		kv := ""
		switch {
		case attached:
			_, kv, _ = strings.Cut(tok, "=")
		case i+1 < len(args) && strings.Contains(args[i+1], "="):
			kv = args[i+1]
			i++
		default:
			out = append(out, tok)
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok { // --tag=KEY: the value follows
			out = append(out, "--tag", k)
			continue
		}
		out = append(out, "--tag", k, v)
	}
	return out
}

// patchFileName maps an identifier to a file path below the output directory, refusing one
// that would leave it ("../x") or is not a valid name here.
func patchFileName(identifier string) (string, error) {
	name, err := filepath.Localize(strings.TrimLeft(identifier, "/"))
	if err != nil || name == "." {
		return "", fmt.Errorf("identifier %q is not a file name below the output directory; read it to standard output instead", identifier)
	}
	return name, nil
}

func runListPatches(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "list-patches-in-quilt")
	cf := addClientFlags(fs)
	quiltID := fs.String("quilt-id", "", "the quilt's blob ID")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if *quiltID == "" && len(pos) == 1 {
		*quiltID = pos[0]
	}
	id, err := blob.ParseID(*quiltID)
	if err != nil {
		return usagef("usage: floe list-patches-in-quilt QUILT_ID: %v", err)
	}
	c, err := openClient(ctx, e, cf)
	if err != nil {
		return err
	}
	defer c.Close()
	ps, err := c.ListQuiltPatches(ctx, id)
	if err != nil {
		return err
	}
	if *cf.asJSON {
		return printJSON(e.stdout, struct {
			QuiltID blob.ID                 `json:"quiltId"`
			Patches []client.QuiltPatchInfo `json:"patches"`
		}{id, ps})
	}
	fmt.Fprintf(e.stdout, "quilt %s: %d patches\n", id, len(ps))
	for _, p := range ps {
		var tags bytes.Buffer
		keys := make([]string, 0, len(p.Tags))
		for k := range p.Tags {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&tags, " %s=%q", k, p.Tags[k])
		}
		fmt.Fprintf(e.stdout, "  %s  %s%s\n", p.PatchID, p.Identifier, tags.String())
	}
	return nil
}
