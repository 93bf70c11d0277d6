package site

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"slices"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/client"
	"github.com/floelabs/floe/quilt"
	"github.com/floelabs/floe/redstuff"
)

// DefaultMaxQuiltBytes bounds the file bytes Publish puts into one quilt (a quilt is built in
// memory before it is stored).
const DefaultMaxQuiltBytes = 256 << 20

// PublishOptions configure Publish and Update.
type PublishOptions struct {
	// Epochs the new quilts and manifest are stored for. Publish: default 1. Update: default
	// until the site object's end epoch; more extends the site object to match.
	Epochs uint32
	// Permanent stores permanent blobs (default deletable).
	Permanent bool
	// MaxQuiltBytes bounds the file bytes of one quilt (default DefaultMaxQuiltBytes).
	MaxQuiltBytes int64
	// Resources replaces the directory's ws-resources.json if not nil.
	Resources *WSResources
	Logger    *slog.Logger
}

// QuiltSummary is one quilt a publication stored.
type QuiltSummary struct {
	QuiltID       blob.ID         `json:"quiltId"`
	ObjectID      client.ObjectID `json:"objectId"`
	Patches       int             `json:"patches"`
	Size          uint64          `json:"size"`
	EncodedLength uint64          `json:"encodedLength"`
	Cost          uint64          `json:"cost"`
	EndEpoch      uint32          `json:"endEpoch"`
}

// PublishResult is the outcome of Publish or Update.
type PublishResult struct {
	// SiteID is the site's object ID; Label is its host label (see Label).
	SiteID client.ObjectID `json:"siteObjectId"`
	Label  string          `json:"label"`
	// ManifestID is the blob ID of the manifest now current.
	ManifestID blob.ID   `json:"manifestBlobId"`
	Manifest   *Manifest `json:"-"`
	// Stored are the paths whose bytes this publication stored; Kept those whose patches it
	// reused from the previous version (same SHA-256); Removed those it dropped.
	Stored  []string `json:"stored"`
	Kept    []string `json:"kept"`
	Removed []string `json:"removed"`
	// Quilts are the quilts stored; Cost is what every store paid, manifest included.
	Quilts   []QuiltSummary `json:"quilts"`
	Cost     uint64         `json:"cost"`
	EndEpoch uint32         `json:"endEpoch"`
	// Extended are the blobs (quilts of kept files, an unchanged manifest) that Update extended
	// to the site's end epoch.
	Extended []blob.ID `json:"extended,omitempty"`
	// Unchanged is set when Update found nothing to change.
	Unchanged bool `json:"unchanged"`
}

func (o *PublishOptions) defaults() {
	if o.MaxQuiltBytes <= 0 {
		o.MaxQuiltBytes = DefaultMaxQuiltBytes
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Publish stores the site in fsys as a new site: its files in as few quilts as fit (at most
// K_s-1 patches and MaxQuiltBytes each, identical files once), then its manifest as a new blob
// object owned by the wallet, which becomes the site object (its attribute AttrManifest names
// the manifest).
func Publish(ctx context.Context, c *client.Client, fsys fs.FS, opts PublishOptions) (*PublishResult, error) {
	opts.defaults()
	if opts.Epochs == 0 {
		opts.Epochs = 1
	}
	ws, err := resourcesFor(fsys, opts)
	if err != nil {
		return nil, err
	}
	m, res, err := storeVersion(ctx, c, fsys, ws, nil, opts)
	if err != nil {
		return nil, err
	}
	mb, err := m.Marshal()
	if err != nil {
		return nil, err
	}
	// Force: the site object must be a new object of the wallet's, even if the same manifest
	// was stored before.
	sr, err := c.StoreBytes(ctx, mb, client.StoreOptions{Epochs: opts.Epochs, Permanent: opts.Permanent, Force: true})
	if err != nil {
		return nil, fmt.Errorf("site: storing the manifest: %w", err)
	}
	res.Cost += sr.Cost
	if err := c.SetAttributes(ctx, sr.ObjectID, map[string]string{AttrManifest: sr.BlobID.String()}, nil); err != nil {
		return nil, fmt.Errorf("site: the manifest is stored as object %s, but naming it the site's manifest failed: %w", sr.ObjectID, err)
	}
	res.SiteID, res.Label, res.ManifestID, res.Manifest, res.EndEpoch = sr.ObjectID, Label(sr.ObjectID), sr.BlobID, m, sr.EndEpoch
	opts.Logger.Info("site published", "site", sr.ObjectID, "manifest", sr.BlobID, "files", len(m.Resources), "quilts", len(res.Quilts))
	return res, nil
}

// Update publishes a new version of the site whose object is siteID, owned by the wallet: the
// files whose SHA-256 the current manifest does not hold are stored in new quilts, the others
// keep their patches; a new manifest is stored and the site object's AttrManifest attribute
// is pointed at it. The site's object ID, and so its URL, stay the same.
func Update(ctx context.Context, c *client.Client, siteID client.ObjectID, fsys fs.FS, opts PublishOptions) (*PublishResult, error) {
	opts.defaults()
	obj, err := c.BlobByObjectID(ctx, siteID)
	if err != nil {
		return nil, fmt.Errorf("site: %s: %w", siteID, err)
	}
	if obj.Owner != c.Address() {
		return nil, fmt.Errorf("%w: %s is owned by %s, the wallet is %s", ErrNotOwner, siteID, obj.Owner, c.Address())
	}
	prev, prevID, err := LoadManifest(ctx, c, siteID)
	if err != nil {
		return nil, err
	}
	info, err := c.Info(ctx)
	if err != nil {
		return nil, err
	}
	end := obj.Storage.End
	if end <= info.Epoch {
		return nil, fmt.Errorf("site: %s expired at epoch %d", siteID, end)
	}
	if opts.Epochs == 0 {
		opts.Epochs = end - info.Epoch
	} else if want := info.Epoch + opts.Epochs; want > end {
		if _, err := c.Extend(ctx, siteID, want-end); err != nil {
			return nil, fmt.Errorf("site: extending the site object to epoch %d: %w", want, err)
		}
	}
	ws, err := resourcesFor(fsys, opts)
	if err != nil {
		return nil, err
	}
	m, res, err := storeVersion(ctx, c, fsys, ws, prev, opts)
	if err != nil {
		return nil, err
	}
	res.SiteID, res.Label = siteID, Label(siteID)
	if err := extendKept(ctx, c, m, res, info.Epoch+opts.Epochs, opts); err != nil {
		return nil, err
	}
	mb, err := m.Marshal()
	if err != nil {
		return nil, err
	}
	if blobIDOf(info.Params.NShards, mb) == prevID {
		// The current manifest stays: it must live as long as the site too.
		if err := extendBlobs(ctx, c, map[blob.ID]string{prevID: "the site's manifest"}, res, info.Epoch+opts.Epochs, opts); err != nil {
			return nil, err
		}
		res.ManifestID, res.Manifest, res.Unchanged, res.EndEpoch = prevID, m, true, max(end, info.Epoch+opts.Epochs)
		return res, nil
	}
	sr, err := c.StoreBytes(ctx, mb, client.StoreOptions{Epochs: opts.Epochs, Permanent: opts.Permanent})
	if err != nil {
		return nil, fmt.Errorf("site: storing the manifest: %w", err)
	}
	res.Cost += sr.Cost
	if err := c.SetAttributes(ctx, siteID, map[string]string{AttrManifest: sr.BlobID.String()}, nil); err != nil {
		return nil, fmt.Errorf("site: the new manifest %s is stored, but pointing the site at it failed: %w", sr.BlobID, err)
	}
	res.ManifestID, res.Manifest, res.EndEpoch = sr.BlobID, m, max(end, info.Epoch+opts.Epochs)
	opts.Logger.Info("site updated", "site", siteID, "manifest", sr.BlobID, "stored", len(res.Stored), "kept", len(res.Kept), "removed", len(res.Removed))
	return res, nil
}

// extendKept makes the quilts of the files an update keeps live until the epoch end, as its
// new files are (see extendBlobs).
func extendKept(ctx context.Context, c *client.Client, m *Manifest, res *PublishResult, end uint32, opts PublishOptions) error {
	need := map[blob.ID]string{}
	for _, p := range res.Kept {
		q := m.Resources[p].PatchID.Quilt
		if _, ok := need[q]; !ok {
			need[q] = "the quilt of " + p
		}
	}
	return extendBlobs(ctx, c, need, res, end, opts)
}

// extendBlobs makes each blob of need (blob ID → what it is) live until the epoch end: a blob
// whose wallet-owned certified objects all end sooner is extended (its object that lasts
// longest). A blob the wallet owns no object of, that would expire before end, fails the
// update before the new manifest is stored.
func extendBlobs(ctx context.Context, c *client.Client, need map[blob.ID]string, res *PublishResult, end uint32, opts PublishOptions) error {
	if len(need) == 0 {
		return nil
	}
	owned, err := c.ListBlobs(ctx, nil)
	if err != nil {
		return fmt.Errorf("site: the wallet's blob objects: %w", err)
	}
	best := map[blob.ID]client.Blob{}
	for _, b := range owned {
		if cur, ok := best[b.BlobID]; b.Certified && (!ok || b.Storage.End > cur.Storage.End) {
			best[b.BlobID] = b
		}
	}
	ids := make([]blob.ID, 0, len(need))
	for id := range need {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b blob.ID) int { return bytes.Compare(a[:], b[:]) })
	for _, id := range ids {
		b, ok := best[id]
		switch {
		case ok && b.Storage.End >= end:
			continue
		case !ok:
			return fmt.Errorf("%w: %s (%s) must live until epoch %d, and the wallet owns no object of it to extend", ErrKeptExpires, id, need[id], end)
		}
		xr, err := c.Extend(ctx, b.ID, end-b.Storage.End)
		if err != nil {
			return fmt.Errorf("site: extending %s (%s) to epoch %d: %w", id, need[id], end, err)
		}
		res.Cost += xr.Cost
		res.Extended = append(res.Extended, id)
		opts.Logger.Info("blob extended", "blob", id, "what", need[id], "object", b.ID, "end", end)
	}
	return nil
}

// blobIDOf returns the blob ID data would have on n shards (zero if it cannot be computed).
func blobIDOf(n int, data []byte) blob.ID {
	enc, err := redstuff.New(n)
	if err != nil {
		return blob.ID{}
	}
	cm, err := enc.Commit(data)
	if err != nil {
		return blob.ID{}
	}
	return blob.NewMetadata(cm).ID
}

// LoadManifest returns the current manifest of the site whose object is siteID, and its blob
// ID.
func LoadManifest(ctx context.Context, c *client.Client, siteID client.ObjectID) (*Manifest, blob.ID, error) {
	obj, err := c.BlobByObjectID(ctx, siteID)
	if err != nil {
		return nil, blob.ID{}, fmt.Errorf("site: %s: %w", siteID, err)
	}
	id, err := ManifestID(obj)
	if err != nil {
		return nil, blob.ID{}, err
	}
	size, err := c.BlobSize(ctx, id)
	if err != nil {
		return nil, id, fmt.Errorf("site: manifest %s: %w", id, err)
	}
	if size > MaxManifestSize {
		return nil, id, fmt.Errorf("%w: manifest %s has %d bytes, limit %d", ErrInvalidManifest, id, size, MaxManifestSize)
	}
	b, err := c.ReadBytes(ctx, id)
	if err != nil {
		return nil, id, fmt.Errorf("site: manifest %s: %w", id, err)
	}
	m, err := ParseManifest(b)
	return m, id, err
}

// ManifestID returns the blob ID of the manifest a site object names.
func ManifestID(obj *client.Blob) (blob.ID, error) {
	v, ok := obj.Attributes[AttrManifest]
	if !ok {
		return blob.ID{}, fmt.Errorf("%w: object %s has no %s attribute", ErrNotASite, obj.ID, AttrManifest)
	}
	id, err := blob.ParseID(v)
	if err != nil {
		return blob.ID{}, fmt.Errorf("%w: object %s: %s: %w", ErrNotASite, obj.ID, AttrManifest, err)
	}
	return id, nil
}

func resourcesFor(fsys fs.FS, opts PublishOptions) (*WSResources, error) {
	if opts.Resources != nil {
		return opts.Resources, opts.Resources.Validate()
	}
	return ReadWSResources(fsys)
}

// storeVersion scans fsys, reuses prev's patches for contents it already holds, stores the rest
// in quilts and returns the new manifest.
func storeVersion(ctx context.Context, c *client.Client, fsys fs.FS, ws *WSResources, prev *Manifest, opts PublishOptions) (*Manifest, *PublishResult, error) {
	files, err := Scan(fsys, ws)
	if err != nil {
		return nil, nil, err
	}
	if len(files) == 0 {
		return nil, nil, ErrEmptySite
	}
	info, err := c.Info(ctx)
	if err != nil {
		return nil, nil, err
	}
	params, err := redstuff.NewParams(info.Params.NShards)
	if err != nil {
		return nil, nil, fmt.Errorf("site: %w", err)
	}
	m := &Manifest{Version: ManifestVersion, SiteName: ws.SiteName, Metadata: ws.Metadata,
		Resources: map[string]Resource{}, Routes: ws.Routes, Redirects: ws.Redirects}
	res := &PublishResult{}
	old := map[Hash]Resource{}
	if prev != nil {
		for _, p := range prev.Paths() {
			r := prev.Resources[p]
			if _, ok := old[r.SHA256]; !ok {
				old[r.SHA256] = r
			}
		}
	}
	// Files whose contents are not stored yet, once per content; the paths of each content.
	var todo []File
	paths := map[Hash][]string{}
	headers := map[string]map[string]string{}
	for _, f := range files {
		headers[f.Path] = f.Headers
		if r, ok := old[f.SHA256]; ok && r.Size == uint64(f.Size) {
			m.Resources[f.Path] = Resource{PatchID: r.PatchID, SHA256: f.SHA256, Size: r.Size, Headers: f.Headers}
			res.Kept = append(res.Kept, f.Path)
			continue
		}
		if _, ok := paths[f.SHA256]; !ok {
			todo = append(todo, f)
		}
		paths[f.SHA256] = append(paths[f.SHA256], f.Path)
	}
	maxPatches := params.SecondarySource - 1
	for len(todo) > 0 {
		k, size := 0, int64(0)
		for k < len(todo) && k < maxPatches && (k == 0 || size+todo[k].Size <= opts.MaxQuiltBytes) {
			size += todo[k].Size
			k++
		}
		group := todo[:k]
		todo = todo[k:]
		patches := make([]quilt.Patch, len(group))
		for i, f := range group {
			data, err := readFile(fsys, f)
			if err != nil {
				return nil, nil, err
			}
			patches[i] = quilt.Patch{Identifier: f.Path, Data: data}
		}
		qr, err := c.StoreQuilt(ctx, patches, client.StoreOptions{Epochs: opts.Epochs, Permanent: opts.Permanent})
		if err != nil {
			return nil, nil, fmt.Errorf("site: storing a quilt of %d files: %w", len(patches), err)
		}
		byIdent := map[string]quilt.PatchID{}
		for _, p := range qr.Patches {
			byIdent[p.Identifier] = p.PatchID
		}
		for _, f := range group {
			for _, p := range paths[f.SHA256] {
				m.Resources[p] = Resource{PatchID: byIdent[f.Path], SHA256: f.SHA256, Size: uint64(f.Size), Headers: headers[p]}
				res.Stored = append(res.Stored, p)
			}
		}
		res.Quilts = append(res.Quilts, QuiltSummary{QuiltID: qr.BlobID, ObjectID: qr.ObjectID, Patches: len(patches),
			Size: qr.Size, EncodedLength: qr.EncodedLength, Cost: qr.Cost, EndEpoch: qr.EndEpoch})
		res.Cost += qr.Cost
		opts.Logger.Info("quilt stored", "quilt", qr.BlobID, "files", len(patches), "bytes", size)
	}
	if prev != nil {
		for _, p := range prev.Paths() {
			if _, ok := m.Resources[p]; !ok {
				res.Removed = append(res.Removed, p)
			}
		}
	}
	for pat, target := range m.Routes {
		if _, ok := m.Resources[target]; !ok {
			opts.Logger.Warn("a route's target is not a file of the site", "route", pat, "target", target)
		}
	}
	return m, res, nil
}

// readFile reads a scanned file again and checks that it did not change since.
func readFile(fsys fs.FS, f File) ([]byte, error) {
	r, err := fsys.Open(f.Name)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var buf bytes.Buffer
	buf.Grow(int(f.Size))
	if _, err := io.Copy(&buf, io.LimitReader(r, f.Size+1)); err != nil {
		return nil, fmt.Errorf("site: reading %s: %w", f.Path, err)
	}
	if sha256.Sum256(buf.Bytes()) != f.SHA256 {
		return nil, fmt.Errorf("site: %s changed while it was being published", f.Path)
	}
	return buf.Bytes(), nil
}
