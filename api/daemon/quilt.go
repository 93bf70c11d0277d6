package daemon

// Quilt routes (net/http ServeMux patterns). An identifier holding "/" is sent with the slash
// percent-encoded (%2F).
const (
	RouteQuilts             = "/v1/quilts"
	RouteQuiltPatches       = "/v1/quilts/{quilt_id}/patches"
	RouteBlobByQuiltPatchID = "/v1/blobs/by-quilt-patch-id/{quilt_patch_id}"
	RouteBlobByQuiltID      = "/v1/blobs/by-quilt-id/{quilt_id}/{identifier...}"
)

// Quilt defaults and names (Walrus's).
const (
	// DefaultMaxQuiltBodySize bounds a PUT /v1/quilts body (--max-quilt-body-size is in KiB).
	DefaultMaxQuiltBodySize = 100 * 1024 * 1024
	// QuiltMetadataField is the multipart field holding the patches' tags as JSON:
	// [{"identifier": "...", "tags": {"k": "v"}}].
	QuiltMetadataField = "_metadata"
	// HeaderQuiltPatchIdentifier carries a patch's identifier in a patch read's response.
	HeaderQuiltPatchIdentifier = "X-Quilt-Patch-Identifier"
	// ReasonQuiltPatchNotFound: the quilt has no such patch, or the blob is not a quilt.
	ReasonQuiltPatchNotFound = "QUILT_PATCH_NOT_FOUND"
)

// QuiltStoreResponse is the answer of PUT /v1/quilts.
type QuiltStoreResponse struct {
	BlobStoreResult  BlobStoreResult   `json:"blobStoreResult"`
	StoredQuiltBlobs []StoredQuiltBlob `json:"storedQuiltBlobs"`
}

// StoredQuiltBlob names one patch of a stored quilt.
type StoredQuiltBlob struct {
	Identifier   string `json:"identifier"`
	QuiltPatchID string `json:"quiltPatchId"`
}

// QuiltPatchItem is one entry of GET /v1/quilts/{quilt_id}/patches; note the snake_case
// patch_id, as Walrus's (unlike quiltPatchId in store answers).
type QuiltPatchItem struct {
	Identifier string            `json:"identifier"`
	PatchID    string            `json:"patch_id"`
	Tags       map[string]string `json:"tags"`
}
