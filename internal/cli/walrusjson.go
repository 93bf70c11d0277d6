package cli

import (
	"encoding/json"
	"sort"
	"time"

	api "github.com/floelabs/floe/api/daemon"
	"github.com/floelabs/floe/client"
)

// The --json output of the client commands has the field names and nesting of Walrus's
// response types (crates/walrus-service/src/client/responses.rs and the types they hold):
// camelCase, externally tagged enums, Rust's Option as null or an absent field exactly where
// Walrus's serde attributes put them. testdata/walrus/ holds one golden example per shape.

// storeOutput is one element of `store --json` (BlobStoreResultWithPath).
type storeOutput struct {
	BlobStoreResult *api.BlobStoreResult `json:"blobStoreResult"`
	Path            string               `json:"path"`
}

// dryRunOutput is one element of `store --dry-run --json`.
type dryRunOutput struct {
	Path          string `json:"path"`
	BlobID        string `json:"blobId"`
	UnencodedSize uint64 `json:"unencodedSize"`
	EncodedSize   uint64 `json:"encodedSize"`
	StorageCost   uint64 `json:"storageCost"`
	EncodingType  string `json:"encodingType"`
}

// readOutput is `read --json`: the blob in base64 when no --out is given.
type readOutput struct {
	Out    string `json:"out,omitempty"`
	BlobID string `json:"blobId"`
	Blob   []byte `json:"blob,omitempty"`
}

// blobIDOutput is `blob-id --json`.
type blobIDOutput struct {
	BlobID          string `json:"blobId"`
	File            string `json:"file"`
	UnencodedLength uint64 `json:"unencodedLength"`
	EncodingType    string `json:"encodingType"`
}

// blobStatusOutput is `blob-status --json`.
type blobStatusOutput struct {
	BlobID string      `json:"blobId"`
	File   string      `json:"file,omitempty"`
	Status wBlobStatus `json:"status"`
	// EstimatedExpiryTimestamp is set for a permanent blob only.
	EstimatedExpiryTimestamp *string `json:"estimatedExpiryTimestamp,omitempty"`
}

// wEventID is a Sui event ID; Floe's is the control-plane transaction and the event's index.
type wEventID struct {
	TxDigest string `json:"txDigest"`
	EventSeq string `json:"eventSeq"`
}

// wDeletableCounts keeps Walrus's snake_case (its struct has no rename).
type wDeletableCounts struct {
	CountDeletableTotal     uint32 `json:"count_deletable_total"`
	CountDeletableCertified uint32 `json:"count_deletable_certified"`
}

// wBlobStatus is Walrus's BlobStatus enum: "nonexistent", or an object with one of invalid,
// permanent, deletable.
type wBlobStatus struct {
	Invalid   *wInvalidStatus   `json:"invalid,omitempty"`
	Permanent *wPermanentStatus `json:"permanent,omitempty"`
	Deletable *wDeletableStatus `json:"deletable,omitempty"`
}

type wInvalidStatus struct {
	Event wEventID `json:"event"`
}

type wPermanentStatus struct {
	EndEpoch              uint32           `json:"endEpoch"`
	IsCertified           bool             `json:"isCertified"`
	StatusEvent           wEventID         `json:"statusEvent"`
	DeletableCounts       wDeletableCounts `json:"deletableCounts"`
	InitialCertifiedEpoch *uint32          `json:"initialCertifiedEpoch"`
}

type wDeletableStatus struct {
	InitialCertifiedEpoch *uint32          `json:"initialCertifiedEpoch"`
	DeletableCounts       wDeletableCounts `json:"deletableCounts"`
}

// MarshalJSON writes the unit variant as a bare string.
func (s wBlobStatus) MarshalJSON() ([]byte, error) {
	if s.Invalid == nil && s.Permanent == nil && s.Deletable == nil {
		return []byte(`"nonexistent"`), nil
	}
	type plain wBlobStatus
	return json.Marshal(plain(s))
}

// walrusStatus converts the SDK's status of a blob ID.
func walrusStatus(st *client.BlobStatus) wBlobStatus {
	counts := wDeletableCounts{CountDeletableTotal: st.DeletableCounts.Total, CountDeletableCertified: st.DeletableCounts.Certified}
	switch st.Status {
	case client.StatusInvalid:
		return wBlobStatus{Invalid: &wInvalidStatus{Event: eventOf(st.Event)}}
	case client.StatusPermanent:
		return wBlobStatus{Permanent: &wPermanentStatus{EndEpoch: st.EndEpoch, IsCertified: st.IsCertified,
			StatusEvent: eventOf(st.Event), DeletableCounts: counts, InitialCertifiedEpoch: st.InitialCertifiedEpoch}}
	case client.StatusDeletable:
		return wBlobStatus{Deletable: &wDeletableStatus{InitialCertifiedEpoch: st.InitialCertifiedEpoch, DeletableCounts: counts}}
	}
	return wBlobStatus{}
}

func eventOf(e *client.EventID) wEventID {
	if e == nil {
		return wEventID{EventSeq: "0"}
	}
	return wEventID{TxDigest: e.TxDigest, EventSeq: e.EventSeq}
}

// walrusBlob is a blob object as Walrus prints it (move_structs::Blob).
func walrusBlob(b *client.Blob) api.BlobObject {
	o := api.BlobObject{ID: b.ID.String(), RegisteredEpoch: b.RegisteredEpoch, BlobID: b.BlobID.String(), Size: b.Size,
		EncodingType: api.EncodingTypeRS2, Deletable: b.Deletable,
		Storage: api.StorageObject{ID: b.Storage.ID.String(), StartEpoch: b.Storage.Start, EndEpoch: b.Storage.End, StorageSize: b.Storage.Size}}
	if b.Certified {
		ce := b.CertifiedEpoch
		o.CertifiedEpoch = &ce
	}
	return o
}

func walrusBlobs(bs []client.Blob) []api.BlobObject {
	out := make([]api.BlobObject, 0, len(bs))
	for i := range bs {
		out = append(out, walrusBlob(&bs[i]))
	}
	return out
}

// blobIdentity names a delete target (its unset fields are null, as Walrus's).
type blobIdentity struct {
	BlobID   *string `json:"blobId"`
	File     *string `json:"file"`
	ObjectID *string `json:"objectId"`
}

// deleteOutput is one element of `delete --json`.
type deleteOutput struct {
	BlobIdentity       blobIdentity     `json:"blobIdentity"`
	DeletedBlobs       []api.BlobObject `json:"deletedBlobs"`
	PostDeletionStatus *wBlobStatus     `json:"postDeletionStatus,omitempty"`
	NoBlobFound        bool             `json:"noBlobFound"`
	Error              *string          `json:"error,omitempty"`
	Aborted            bool             `json:"aborted"`
}

// extendOutput is `extend --json`.
type extendOutput struct {
	EpochsExtended uint32 `json:"epochsExtended"`
}

// shareOutput is `share --json`.
type shareOutput struct {
	SharedBlobObjectID string  `json:"sharedBlobObjectId"`
	Amount             *uint64 `json:"amount"`
}

// fundOutput is `fund-shared-blob --json`.
type fundOutput struct {
	Amount uint64 `json:"amount"`
}

// blobAttribute is Walrus's BlobAttribute: a Sui VecMap of strings.
type blobAttribute struct {
	Metadata struct {
		Contents []attributeEntry `json:"contents"`
	} `json:"metadata"`
}

type attributeEntry struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// getAttributeOutput is `get-blob-attribute --json`: null when the object has no attributes.
type getAttributeOutput struct {
	Attribute *blobAttribute `json:"attribute"`
}

// walrusAttribute returns the attributes in key order (nil for none).
func walrusAttribute(attrs map[string]string) *blobAttribute {
	if len(attrs) == 0 {
		return nil
	}
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	a := &blobAttribute{}
	a.Metadata.Contents = make([]attributeEntry, 0, len(keys))
	for _, k := range keys {
		a.Metadata.Contents = append(a.Metadata.Contents, attributeEntry{Key: k, Value: attrs[k]})
	}
	return a
}

// rustDuration is Rust's std::time::Duration in serde's form.
type rustDuration struct {
	Secs  uint64 `json:"secs"`
	Nanos uint32 `json:"nanos"`
}

func durationOf(d time.Duration) rustDuration {
	return rustDuration{Secs: uint64(d / time.Second), Nanos: uint32(d % time.Second)}
}

// rfc3339 formats a time as chrono does (UTC, "Z").
func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
