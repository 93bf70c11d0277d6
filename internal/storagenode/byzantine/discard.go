package byzantine

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"

	api "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/redstuff"
)

// DiscardSlivers verifies every uploaded sliver against its blob's metadata as an honest node
// does, then discards it instead of storing it, and signs storage confirmations as if it held
// the slivers. It stores metadata honestly. It exists for benchmarks of a CLIENT's memory and
// CPU on blobs whose slivers would not fit on the test machine's disk (BenchmarkPeakRSS
// -rss.discard stores 10 GiB): what such a benchmark measures is the client, never the nodes'
// storage. A node in this mode holds nothing it confirmed.
const DiscardSlivers Mode = "discard-slivers"

// discardMetadataKept is how many blobs' metadata a discarding node keeps in memory for
// verifying their slivers (the last ones uploaded).
const discardMetadataKept = 64

// discarder verifies uploads and drops them (DiscardSlivers).
type discarder struct {
	mu    sync.Mutex
	mds   map[blob.ID]*blob.MetadataWithID
	order []blob.ID // mds's keys, oldest first
	encs  map[int]*redstuff.Encoder
}

func newDiscarder() *discarder {
	return &discarder{mds: map[blob.ID]*blob.MetadataWithID{}, encs: map[int]*redstuff.Encoder{}}
}

// encoder returns the encoder for n shards.
func (d *discarder) encoder(n int) (*redstuff.Encoder, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e := d.encs[n]; e != nil {
		return e, nil
	}
	e, err := redstuff.New(n)
	if err != nil {
		return nil, err
	}
	d.encs[n] = e
	return e, nil
}

// addMetadata decodes and checks the BCS metadata of blob id and remembers it.
func (d *discarder) addMetadata(id blob.ID, body []byte) error {
	md := &blob.MetadataWithID{ID: id}
	if err := md.Metadata.UnmarshalBCS(body); err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	enc, err := d.encoder(len(md.Metadata.Hashes))
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	if err := md.Verify(enc.Params()); err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	d.remember(md)
	return nil
}

// remember keeps md, forgetting the oldest blob's beyond discardMetadataKept.
func (d *discarder) remember(md *blob.MetadataWithID) {
	id := md.ID
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.mds[id] == nil {
		d.order = append(d.order, id)
		if len(d.order) > discardMetadataKept {
			delete(d.mds, d.order[0])
			d.order = d.order[1:]
		}
	}
	d.mds[id] = md
}

// errNoMetadata: a sliver came before its blob's metadata.
var errNoMetadata = errors.New("no metadata for the blob")

// check decodes the BCS SliverData body of blob id's sliver of axis a in pair and verifies it
// against the blob's metadata, as an honest node does before storing it.
func (d *discarder) check(id blob.ID, pair int, a redstuff.Axis, body []byte) error {
	d.mu.Lock()
	md := d.mds[id]
	d.mu.Unlock()
	if md == nil {
		return fmt.Errorf("%w %s", errNoMetadata, id)
	}
	enc, err := d.encoder(len(md.Metadata.Hashes))
	if err != nil {
		return err
	}
	sl, err := blob.UnmarshalSliverData(body, a)
	if err != nil {
		return fmt.Errorf("sliver: %w", err)
	}
	if sl.Index >= enc.Params().NShards || enc.Params().PairIndex(a, sl.Index) != pair {
		return fmt.Errorf("%s sliver %d is not in pair %d", a, sl.Index, pair)
	}
	if err := blob.VerifySliver(enc, md, sl); err != nil {
		return fmt.Errorf("%s sliver %d: %w", a, sl.Index, err)
	}
	return nil
}

// discardBodyLimit bounds one sliver body or batch frame a discarding node reads (the largest
// primary sliver at n = 1000 is 44 MB); it holds one at a time.
const discardBodyLimit = 256 << 20

// putMetadata remembers the metadata, then lets the honest node store it.
func (b *liar) putMetadata(w http.ResponseWriter, r *http.Request) {
	id, err := blob.ParseID(r.PathValue("blob_id"))
	if err != nil {
		b.honest.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<24))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := b.discard.addMetadata(id, body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r2 := r.Clone(r.Context())
	r2.Body, r2.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	b.honest.ServeHTTP(w, r2)
}

// putSliver verifies one sliver and discards it.
func (b *liar) putSliver(w http.ResponseWriter, r *http.Request) {
	id, err := blob.ParseID(r.PathValue("blob_id"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	pair, err := strconv.ParseUint(r.PathValue("pair"), 10, 16)
	if err != nil {
		http.Error(w, "bad pair index", http.StatusBadRequest)
		return
	}
	t, err := blob.ParseSliverType(r.PathValue("type"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, discardBodyLimit))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := b.discard.check(id, int(pair), t.Axis(), body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	writeSuccess(w, http.StatusCreated, "stored")
}

// putSliverBatch reads a sliver batch frame by frame, remembering its metadata (which the
// honest node stores) and verifying and discarding its slivers.
func (b *liar) putSliverBatch(w http.ResponseWriter, r *http.Request) {
	id, err := blob.ParseID(r.PathValue("blob_id"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	br := api.NewBatchReader(r.Body, discardBodyLimit)
	var res api.BatchResult
	for {
		f, err := br.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if f.Kind == api.FrameMetadata {
			if err := b.discard.addMetadata(id, f.Payload); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			req, err := http.NewRequestWithContext(r.Context(), http.MethodPut, api.MetadataPath(id.String())+"?"+r.URL.RawQuery, bytes.NewReader(f.Payload))
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			req.Header.Set("Content-Type", api.ContentTypeOctetStream)
			if rec := b.serveHonest(req); rec.Code >= 300 {
				forward(w, rec, rec.Body.Bytes())
				return
			}
			res.Metadata = api.Stored
			continue
		}
		a := redstuff.Primary
		if f.Kind == api.FrameSecondary {
			a = redstuff.Secondary
		}
		if err := b.discard.check(id, int(f.Pair), a, f.Payload); err != nil {
			http.Error(w, fmt.Sprintf("frame %d: %v", br.Frames()-1, err), http.StatusBadRequest)
			return
		}
		res.Stored++
	}
	writeSuccess(w, http.StatusOK, res)
}
