// Package storagenode holds the wire types of Floe's storage-node HTTP API, shared by the node
// and its clients: route patterns and paths, the JSON envelopes and AIP-193 errors with their
// reasons, and the JSON payloads (StoredOnNodeStatus, BlobStatus, ServiceHealthInfo,
// SignedMessage), as spec §5 describes Walrus's; and the framing of Floe's batched sliver upload
// (see batch.go), which Walrus does not have.
//
// Every route is served over HTTPS. BCS bodies travel as application/octet-stream; JSON bodies
// are wrapped in the envelopes below.
package storagenode

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Route patterns (net/http ServeMux syntax). Path parameters: {blob_id} is the URL-safe
// unpadded base64 blob ID, {pair} a decimal sliver pair index, {type} "primary" or
// "secondary", {object_id} a 0x-prefixed hex object ID.
const (
	RouteMetadata           = "/v1/blobs/{blob_id}/metadata"
	RouteMetadataStatus     = "/v1/blobs/{blob_id}/metadata/status"
	RouteSliver             = "/v1/blobs/{blob_id}/slivers/{pair}/{type}"
	RouteSliverStatus       = "/v1/blobs/{blob_id}/slivers/{pair}/{type}/status"
	RoutePermanentConfirm   = "/v1/blobs/{blob_id}/confirmation/permanent"
	RouteDeletableConfirm   = "/v1/blobs/{blob_id}/confirmation/deletable/{object_id}"
	RouteRecoverySymbols    = "/v1/blobs/{blob_id}/recoverySymbols"
	RouteBlobStatus         = "/v1/blobs/{blob_id}/status"
	RouteHealth             = "/v1/health"
	RouteSliverBatch        = "/v1/blobs/{blob_id}/sliverBatch" // Floe extension, PUT, see batch.go
	RouteInconsistencyProof = "/v1/blobs/{blob_id}/inconsistencyProof/{type}"
	RouteSyncShard          = "/v1/migrate/sync_shard" // POST, BCS SignedMessage<SyncShardMsg>
	RouteMetricsPath        = "/metrics"               // on the separate metrics listener
	ContentTypeOctetStream  = "application/octet-stream"
	ContentTypeJSON         = "application/json"
	ContentTypeSliverBatch  = "application/vnd.floe.sliver-batch"
	QueryPending            = "pending"
	QueryWaitForReg         = "wait_for_registration"
	QueryWaitMillis         = "wait_millis"
	QuerySymbolID           = "id"
	QueryTargetSliver       = "targetSliver"
	QueryTargetType         = "targetType"
	QueryProofAxis          = "proofAxis"
	QueryDetailed           = "detailed"
	SliverBodyHeadroom      = 128 // bytes a sliver PUT body may exceed the largest primary sliver by
	HeaderSliverBatchOffers = "X-Floe-Sliver-Batch"
)

// MetadataPath returns the path of a blob's metadata.
func MetadataPath(blobID string) string { return "/v1/blobs/" + blobID + "/metadata" }

// MetadataStatusPath returns the path of a blob's metadata status.
func MetadataStatusPath(blobID string) string { return MetadataPath(blobID) + "/status" }

// SliverPath returns the path of one sliver: pair is the pair index, sliverType "primary" or
// "secondary".
func SliverPath(blobID string, pair int, sliverType string) string {
	return "/v1/blobs/" + blobID + "/slivers/" + strconv.Itoa(pair) + "/" + sliverType
}

// SliverStatusPath returns the path of a sliver's status.
func SliverStatusPath(blobID string, pair int, sliverType string) string {
	return SliverPath(blobID, pair, sliverType) + "/status"
}

// SliverBatchPath returns the path of the batched upload of a blob.
func SliverBatchPath(blobID string) string { return "/v1/blobs/" + blobID + "/sliverBatch" }

// PermanentConfirmationPath returns the path of a permanent blob's storage confirmation.
func PermanentConfirmationPath(blobID string) string {
	return "/v1/blobs/" + blobID + "/confirmation/permanent"
}

// DeletableConfirmationPath returns the path of a deletable blob object's storage confirmation;
// objectID is the 0x-prefixed hex form.
func DeletableConfirmationPath(blobID, objectID string) string {
	return "/v1/blobs/" + blobID + "/confirmation/deletable/" + objectID
}

// RecoverySymbolsPath returns the path and query of a recovery-symbol request for the symbols
// named by ids ("P-S" forms).
func RecoverySymbolsPath(blobID string, ids []string) string {
	q := url.Values{QuerySymbolID: ids}
	return "/v1/blobs/" + blobID + "/recoverySymbols?" + q.Encode()
}

// RecoverySymbolsForSliverPath returns the path and query of a request for every symbol the
// node can give towards rebuilding sliver target of axis targetType.
func RecoverySymbolsForSliverPath(blobID string, target int, targetType string) string {
	q := url.Values{QueryTargetSliver: {strconv.Itoa(target)}, QueryTargetType: {targetType}}
	return "/v1/blobs/" + blobID + "/recoverySymbols?" + q.Encode()
}

// InconsistencyProofPath returns the path to POST an inconsistency proof whose target sliver
// has the given type ("primary" or "secondary").
func InconsistencyProofPath(blobID, sliverType string) string {
	return "/v1/blobs/" + blobID + "/inconsistencyProof/" + sliverType
}

// MetadataLimit bounds the BCS BlobMetadata (without ID) of a blob of nShards: version,
// encoding type, length, a ULEB128 count of at most 3 bytes, and per pair two Merkle node
// enums of at most 1 + 32 bytes each, with headroom.
func MetadataLimit(nShards int) int64 { return int64(1+1+8+3+nShards*2*(1+32)) + 16 }

// SymbolOverhead bounds the bytes of a BCS GeneralRecoverySymbol beyond its symbol data: the
// enum tags, indices, length prefixes and a Merkle path of at most 16 nodes (n < 65536).
const SymbolOverhead = 1 + 2 + 3 + 2 + 3 + 16*(1+32)

// BlobStatusPath returns the path of a blob's status.
func BlobStatusPath(blobID string) string { return "/v1/blobs/" + blobID + "/status" }

// Success is the JSON success envelope: {"success": {"code": ..., "data": ...}}.
type Success[T any] struct {
	Success SuccessBody[T] `json:"success"`
}

// SuccessBody is the content of a success envelope.
type SuccessBody[T any] struct {
	Code int `json:"code"`
	Data T   `json:"data"`
}

// Status names of AIP-193 errors (spec §5.2).
const (
	StatusInvalidArgument    = "INVALID_ARGUMENT"
	StatusFailedPrecondition = "FAILED_PRECONDITION"
	StatusNotFound           = "NOT_FOUND"
	StatusPermissionDenied   = "PERMISSION_DENIED"
	StatusSizeExceeded       = "SIZE_EXCEEDED"
	StatusUnauthenticated    = "UNAUTHENTICATED"
	StatusRangeNotSatisfied  = "RANGE_NOT_SATISFIABLE"
	StatusResourceExhausted  = "RESOURCE_EXHAUSTED"
	StatusInternal           = "INTERNAL"
	StatusUnavailable        = "UNAVAILABLE"
	StatusDeadlineExceeded   = "DEADLINE_EXCEEDED"
	StatusUnsupportedMedia   = "UNSUPPORTED_MEDIA_TYPE"
)

// HTTPStatus returns the HTTP status code of an AIP-193 status name (500 if unknown).
func HTTPStatus(status string) int {
	switch status {
	case StatusInvalidArgument, StatusFailedPrecondition:
		return 400
	case StatusUnauthenticated:
		return 401
	case StatusPermissionDenied, StatusSizeExceeded:
		return 403
	case StatusNotFound:
		return 404
	case StatusUnsupportedMedia:
		return 415
	case StatusRangeNotSatisfied:
		return 416
	case StatusResourceExhausted:
		return 429
	case StatusUnavailable:
		return 503
	case StatusDeadlineExceeded:
		return 504
	default:
		return 500
	}
}

// Domain is the error domain of storage-node errors.
const Domain = "storage.walrus.space"

// Error reasons (ErrorInfo.reason) the node returns.
const (
	ReasonNotRegistered       = "NOT_REGISTERED"
	ReasonSliverIndexMismatch = "SLIVER_INDEX_MISMATCH"
	ReasonMetadataNotFound    = "METADATA_NOT_FOUND"
	ReasonInvalidSliver       = "INVALID_SLIVER"
	ReasonInvalidMetadata     = "INVALID_METADATA"
	ReasonInvalidBlob         = "INVALID_BLOB"
	ReasonMissingSlivers      = "MISSING_SLIVERS"
	ReasonSliverNotFound      = "SLIVER_NOT_FOUND"
	ReasonShardNotAssigned    = "SHARD_NOT_ASSIGNED"
	ReasonInvalidBlobID       = "INVALID_BLOB_ID"
	ReasonInvalidPairIndex    = "INVALID_SLIVER_PAIR_INDEX"
	ReasonInvalidSliverType   = "INVALID_SLIVER_TYPE"
	ReasonInvalidObjectID     = "INVALID_OBJECT_ID"
	ReasonInvalidQuery        = "INVALID_QUERY"
	ReasonMalformedBody       = "MALFORMED_BODY"
	ReasonBodyTooLarge        = "BODY_TOO_LARGE"
	ReasonTruncatedBody       = "TRUNCATED_BODY"
	ReasonCacheSaturated      = "CACHE_SATURATED"
	ReasonBlobObjectNotFound  = "BLOB_OBJECT_NOT_FOUND"
	ReasonUnsupportedMedia    = "UNSUPPORTED_MEDIA_TYPE"
	ReasonNoCommittee         = "NO_COMMITTEE"
	ReasonBusy                = "BUSY"
	ReasonInternal            = "INTERNAL"
	ReasonInvalidProof        = "INVALID_INCONSISTENCY_PROOF"
	ReasonBodyTooSlow         = "BODY_TOO_SLOW"
	ReasonSyncShardDenied     = "SYNC_SHARD_DENIED"      // not the shard's owner, or not its previous owner
	ReasonSyncShardEpoch      = "SYNC_SHARD_EPOCH_AHEAD" // the node has not reached the request's epoch
)

// Error is the JSON error envelope: {"error": {...}}.
type Error struct {
	Error ErrorBody `json:"error"`
}

// ErrorBody is the content of an error envelope.
type ErrorBody struct {
	Code    int         `json:"code"`
	Status  string      `json:"status"`
	Message string      `json:"message"`
	Details []ErrorInfo `json:"details,omitempty"`
}

// ErrorInfo is an AIP-193 error detail.
type ErrorInfo struct {
	Type     string            `json:"@type"`
	Reason   string            `json:"reason"`
	Domain   string            `json:"domain"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

// ErrorInfoType is the @type of ErrorInfo details.
const ErrorInfoType = "ErrorInfo"

// Reason returns the reason of the first ErrorInfo detail, or "".
func (e *ErrorBody) Reason() string {
	for _, d := range e.Details {
		if d.Reason != "" {
			return d.Reason
		}
	}
	return ""
}

// StoredOnNodeStatus says whether a node holds metadata or a sliver: "nonexistent", "buffered"
// (held in the pending buffer before the blob's registration) or "stored". Compare
// case-insensitively (spec §5.3).
type StoredOnNodeStatus string

// The stored-on-node statuses.
const (
	Nonexistent StoredOnNodeStatus = "nonexistent"
	Buffered    StoredOnNodeStatus = "buffered"
	Stored      StoredOnNodeStatus = "stored"
)

// UploadResult is the data of a metadata or sliver PUT success: a short message.
type UploadResult = string

// BatchResult is the data of a batched upload success.
type BatchResult struct {
	// Metadata is "stored", "buffered" or "" if the batch carried no metadata.
	Metadata StoredOnNodeStatus `json:"metadata,omitempty"`
	// Stored counts the slivers newly stored (or buffered, if Buffered), AlreadyStored those the
	// node already held.
	Stored        int  `json:"stored"`
	AlreadyStored int  `json:"alreadyStored"`
	Buffered      bool `json:"buffered,omitempty"`
}

// SignedMessage is a BLS-signed protocol message: both fields standard base64 (padded on
// output; decoders should accept unpadded too).
type SignedMessage struct {
	SerializedMessage []byte `json:"serializedMessage"`
	Signature         []byte `json:"signature"`
}

// UnmarshalJSON accepts padded and unpadded standard base64.
func (m *SignedMessage) UnmarshalJSON(b []byte) error {
	var raw struct {
		SerializedMessage string `json:"serializedMessage"`
		Signature         string `json:"signature"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	msg, err := decodeStdBase64(raw.SerializedMessage)
	if err != nil {
		return fmt.Errorf("serializedMessage: %w", err)
	}
	sig, err := decodeStdBase64(raw.Signature)
	if err != nil {
		return fmt.Errorf("signature: %w", err)
	}
	m.SerializedMessage, m.Signature = msg, sig
	return nil
}

func decodeStdBase64(s string) ([]byte, error) {
	if strings.HasSuffix(s, "=") || len(s)%4 == 0 {
		return base64.StdEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// Confirmation is the data of a confirmation response: {"signed": SignedMessage}.
type Confirmation struct {
	Signed *SignedMessage `json:"signed"`
}

// EventID identifies a control-plane event: {"txDigest": base58, "eventSeq": decimal string}.
type EventID struct {
	TxDigest string `json:"txDigest"`
	EventSeq string `json:"eventSeq"`
}

// DeletableCounts counts a blob's live deletable objects (snake_case, as Walrus).
type DeletableCounts struct {
	CountDeletableTotal     uint32 `json:"count_deletable_total"`
	CountDeletableCertified uint32 `json:"count_deletable_certified"`
}

// BlobStatus is the node's blob status. Its JSON form is the string "nonexistent" or an object
// with exactly one of "invalid", "permanent", "deletable" (spec §5.3).
type BlobStatus struct {
	Nonexistent bool
	Invalid     *InvalidStatus
	Permanent   *PermanentStatus
	Deletable   *DeletableStatus
}

// InvalidStatus is the payload of an invalid blob status.
type InvalidStatus struct {
	Event EventID `json:"event"`
}

// PermanentStatus is the payload of a permanent blob status.
type PermanentStatus struct {
	EndEpoch              uint32          `json:"endEpoch"`
	IsCertified           bool            `json:"isCertified"`
	StatusEvent           EventID         `json:"statusEvent"`
	DeletableCounts       DeletableCounts `json:"deletableCounts"`
	InitialCertifiedEpoch *uint32         `json:"initialCertifiedEpoch"`
}

// DeletableStatus is the payload of a deletable blob status.
type DeletableStatus struct {
	InitialCertifiedEpoch *uint32         `json:"initialCertifiedEpoch"`
	DeletableCounts       DeletableCounts `json:"deletableCounts"`
}

// MarshalJSON renders the Walrus enum form.
func (s BlobStatus) MarshalJSON() ([]byte, error) {
	switch {
	case s.Invalid != nil:
		return json.Marshal(map[string]any{"invalid": s.Invalid})
	case s.Permanent != nil:
		return json.Marshal(map[string]any{"permanent": s.Permanent})
	case s.Deletable != nil:
		return json.Marshal(map[string]any{"deletable": s.Deletable})
	default:
		return []byte(`"nonexistent"`), nil
	}
}

// UnmarshalJSON parses the Walrus enum form.
func (s *BlobStatus) UnmarshalJSON(b []byte) error {
	var str string
	if err := json.Unmarshal(b, &str); err == nil {
		if !strings.EqualFold(str, "nonexistent") {
			return fmt.Errorf("storagenode: unknown blob status %q", str)
		}
		*s = BlobStatus{Nonexistent: true}
		return nil
	}
	var obj struct {
		Invalid   *InvalidStatus   `json:"invalid"`
		Permanent *PermanentStatus `json:"permanent"`
		Deletable *DeletableStatus `json:"deletable"`
	}
	if err := json.Unmarshal(b, &obj); err != nil {
		return err
	}
	n := 0
	for _, set := range []bool{obj.Invalid != nil, obj.Permanent != nil, obj.Deletable != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("storagenode: blob status must have exactly one variant, has %d", n)
	}
	*s = BlobStatus{Invalid: obj.Invalid, Permanent: obj.Permanent, Deletable: obj.Deletable}
	return nil
}

// Duration is Rust's std::time::Duration JSON form.
type Duration struct {
	Secs  uint64 `json:"secs"`
	Nanos uint32 `json:"nanos"`
}

// EventProgress reports how far the node has followed control-plane events.
type EventProgress struct {
	Persisted                 uint64 `json:"persisted"`
	Pending                   uint64 `json:"pending"`
	HighestFinishedEventIndex uint64 `json:"highestFinishedEventIndex"`
}

// ShardStatusSummary counts owned shards by status.
type ShardStatusSummary struct {
	Unknown    int `json:"unknown"`
	Ready      int `json:"ready"`
	InTransfer int `json:"inTransfer"`
	InRecovery int `json:"inRecovery"`
}

// ShardSummary summarises the node's shards.
type ShardSummary struct {
	Owned            int                `json:"owned"`
	OwnedShardStatus ShardStatusSummary `json:"ownedShardStatus"`
	ReadOnly         int                `json:"readOnly"`
}

// ShardDetail lists the owned shards (with ?detailed=true), and the others the node holds
// slivers of (status "readOnly": lost at an epoch change, kept until their new owners hold
// them).
type ShardDetail struct {
	Owned []ShardStatus `json:"owned"`
	Other []ShardStatus `json:"other,omitempty"`
}

// ShardStatus is one owned shard's status.
type ShardStatus struct {
	Shard  uint16 `json:"shard"`
	Status string `json:"status"`
}

// ServiceHealthInfo is the data of GET /v1/health. PublicKey is the node's BLS public key
// (base64). NodeStatus is "Active", "Standby" (not in the committee) or "RecoveryCatchUp".
// SliverBatch says the node offers the batched upload route.
type ServiceHealthInfo struct {
	Uptime        Duration      `json:"uptime"`
	Epoch         uint32        `json:"epoch"`
	PublicKey     string        `json:"publicKey"`
	NodeStatus    string        `json:"nodeStatus"`
	EventProgress EventProgress `json:"eventProgress"`
	ShardSummary  ShardSummary  `json:"shardSummary"`
	ShardDetail   *ShardDetail  `json:"shardDetail,omitempty"`
	// LatestCheckpointSequenceNumber is, where Walrus gives the last Sui checkpoint the node
	// processed, the control-plane height of the last event the node applied (absent until
	// it applies one after it starts).
	LatestCheckpointSequenceNumber *uint64 `json:"latestCheckpointSequenceNumber,omitempty"`
	SliverBatch                    bool    `json:"sliverBatch"`
	// Challenges is the node's part in storage challenges (challenge.go).
	Challenges *ChallengeHealth `json:"challenges,omitempty"`
}
