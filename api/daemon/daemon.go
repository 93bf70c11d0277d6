// Package daemon holds the wire types and routes of Floe's publisher and aggregator HTTP API,
// which follows Walrus's client daemon (spec §6): JSON in camelCase, results externally tagged
// ({"newlyCreated": {...}} or {"alreadyCertified": {...}}), errors in the AIP-193 envelope.
package daemon

import "time"

// Routes (net/http ServeMux patterns).
const (
	RouteBlobs          = "/v1/blobs"
	RouteBlob           = "/v1/blobs/{blob_id}"
	RouteBlobByteRange  = "/v1/blobs/{blob_id}/byte-range"
	RouteBlobByObjectID = "/v1/blobs/by-object-id/{object_id}"
	RouteOpenAPI        = "/v1/api"
	RouteOpenAPISpec    = "/v1/api/openapi.json"
	RouteBlobStream     = "/v1alpha/blobs/{blob_id}/stream"
	RouteBlobsConcat    = "/v1alpha/blobs/concat"
	RouteStatus         = "/status"
	RouteMetrics        = "/metrics" // on the separate metrics listener
)

// Defaults of the daemons (Walrus's where Walrus has one).
const (
	DefaultAddr        = "127.0.0.1:31415"
	DefaultMetricsAddr = "127.0.0.1:27182"
	DefaultMaxBodySize = 10 * 1024 * 1024 // bytes, --max-body-size is given in KiB as in Walrus
	// Stores run at once, and wait (their bodies received), before a PUT gets 429.
	DefaultPublisherConcurrent = 8
	DefaultPublisherBuffered   = 8
	// Reads run at once, and wait, before a GET gets 429.
	DefaultAggregatorConcurrent = 256
	DefaultAggregatorBuffered   = 320
	// The bytes of PUT bodies being received at once, in bodies of the largest size.
	DefaultReceiveBufferBodies = 16
	// A PUT body brings at least DefaultMinBodyRate bytes per second over every
	// DefaultBodyRateWindow, or the request ends with 408.
	DefaultMinBodyRate    = 1024
	DefaultBodyRateWindow = 20 * time.Second
	// A response write the client does not take for this long breaks the connection.
	DefaultWriteStallTimeout = 30 * time.Second
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout       = 2 * time.Minute
	ErrorDomain              = "daemon.walrus.space"
	EncodingTypeRS2          = "RS2"
	DefaultAllowedHeader     = "content-type,authorization,content-disposition,content-encoding,content-language,content-location,link"
	// HeaderStreaming marks a response of the streaming route.
	HeaderStreaming = "X-Walrus-Streaming"
)

// Error reasons (details[0].reason of an error response).
const (
	ReasonBlobNotFound              = "BLOB_NOT_FOUND"
	ReasonBlobUnavailable           = "BLOB_UNAVAILABLE"
	ReasonInsufficientConfirmations = "INSUFFICIENT_CONFIRMATIONS"
	ReasonInvalidByteRange          = "INVALID_BYTE_RANGE"
	ReasonMalformedRequest          = "MALFORMED_REQUEST"
	ReasonInvalidBlobPersistence    = "INVALID_BLOB_PERSISTENCE"
	ReasonBlobTooLarge              = "BLOB_TOO_LARGE"
	ReasonPayloadTooLarge           = "PAYLOAD_TOO_LARGE"
	ReasonTooManyRequests           = "TOO_MANY_REQUESTS"
	ReasonUnauthenticated           = "UNAUTHENTICATED"
	ReasonBlobInvalid               = "BLOB_INVALID"
	ReasonInternal                  = "INTERNAL_ERROR"
	ReasonNotFound                  = "NOT_FOUND"
	ReasonMethodNotAllowed          = "METHOD_NOT_ALLOWED"
	ReasonRequestTimeout            = "REQUEST_TIMEOUT"
	ReasonOriginNotAllowed          = "ORIGIN_NOT_ALLOWED"
	ReasonForbiddenBlob             = "FORBIDDEN_BLOB"
	ReasonInvalidIDFormat           = "INVALID_ID_FORMAT"
	ReasonObjectIDResolutionFailed  = "OBJECT_ID_RESOLUTION_FAILED"

	// ReasonInsufficientStorage (507, Floe's): the publisher's disk has no room for a large
	// body or its slivers.
	ReasonInsufficientStorage = "INSUFFICIENT_STORAGE"
)

// BlobStoreResult is the answer of PUT /v1/blobs: exactly one field is set.
type BlobStoreResult struct {
	NewlyCreated     *NewlyCreated     `json:"newlyCreated,omitempty"`
	AlreadyCertified *AlreadyCertified `json:"alreadyCertified,omitempty"`
	MarkedInvalid    *MarkedInvalid    `json:"markedInvalid,omitempty"`
	Error            *StoreError       `json:"error,omitempty"`
}

// NewlyCreated describes a blob object created (or reused) by this store.
type NewlyCreated struct {
	BlobObject        BlobObject        `json:"blobObject"`
	ResourceOperation ResourceOperation `json:"resourceOperation"`
	// Cost is what the store paid, in base units (FROST in Walrus), excluding fees.
	Cost             uint64 `json:"cost"`
	SharedBlobObject string `json:"sharedBlobObject,omitempty"`
}

// BlobObject is the blob object as the control plane holds it.
type BlobObject struct {
	ID              string        `json:"id"`
	RegisteredEpoch uint32        `json:"registeredEpoch"`
	BlobID          string        `json:"blobId"`
	Size            uint64        `json:"size"`
	EncodingType    string        `json:"encodingType"`
	CertifiedEpoch  *uint32       `json:"certifiedEpoch"`
	Storage         StorageObject `json:"storage"`
	Deletable       bool          `json:"deletable"`
}

// StorageObject is a storage resource; EndEpoch is exclusive.
type StorageObject struct {
	ID          string `json:"id"`
	StartEpoch  uint32 `json:"startEpoch"`
	EndEpoch    uint32 `json:"endEpoch"`
	StorageSize uint64 `json:"storageSize"`
}

// ResourceOperation tells how the storage was obtained: exactly one field is set.
type ResourceOperation struct {
	RegisterFromScratch        *RegisterFromScratch `json:"registerFromScratch,omitempty"`
	ReuseStorage               *EncodedLength       `json:"reuseStorage,omitempty"`
	ReuseRegistration          *EncodedLength       `json:"reuseRegistration,omitempty"`
	ReuseAndExtend             *ReuseAndExtend      `json:"reuseAndExtend,omitempty"`
	ReuseAndExtendNonCertified *ReuseAndExtend      `json:"reuseAndExtendNonCertified,omitempty"`
}

// RegisterFromScratch is storage bought for this blob.
type RegisterFromScratch struct {
	EncodedLength uint64 `json:"encodedLength"`
	EpochsAhead   uint32 `json:"epochsAhead"`
}

// EncodedLength is the encoded length of a blob whose resources were reused.
type EncodedLength struct {
	EncodedLength uint64 `json:"encodedLength"`
}

// ReuseAndExtend is a reused registration whose lifetime was extended.
type ReuseAndExtend struct {
	EncodedLength  uint64 `json:"encodedLength"`
	EpochsExtended uint32 `json:"epochsExtended"`
}

// AlreadyCertified is the answer when the blob is certified long enough already; exactly one
// of Event and Object is set.
type AlreadyCertified struct {
	BlobID   string   `json:"blobId"`
	Event    *EventID `json:"event,omitempty"`
	Object   string   `json:"object,omitempty"`
	EndEpoch uint32   `json:"endEpoch"`
}

// EventID identifies the control-plane event that certified a blob.
type EventID struct {
	TxDigest string `json:"txDigest"`
	EventSeq string `json:"eventSeq"`
}

// MarkedInvalid is the answer for a blob marked invalid (the daemon answers 500 with it).
type MarkedInvalid struct {
	BlobID string   `json:"blobId"`
	Event  *EventID `json:"event,omitempty"`
}

// StoreError is a store that failed in a known phase.
type StoreError struct {
	BlobID       *string `json:"blobId"`
	FailurePhase string  `json:"failurePhase"`
	ErrorMsg     string  `json:"errorMsg"`
}

// ErrorResponse is the error envelope (Google AIP-193, as Walrus's api/errors.rs).
type ErrorResponse struct {
	Error ErrorBody `json:"error"`
}

// ErrorBody is the inside of ErrorResponse.
type ErrorBody struct {
	Code    int           `json:"code"`
	Status  string        `json:"status"`
	Message string        `json:"message"`
	Details []ErrorDetail `json:"details"`
}

// ErrorDetail carries the machine-readable reason.
type ErrorDetail struct {
	Type     string            `json:"@type"`
	Reason   string            `json:"reason"`
	Domain   string            `json:"domain"`
	Metadata map[string]string `json:"metadata,omitempty"`
}
