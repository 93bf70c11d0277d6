package storagenode

import (
	"net/url"
	"strconv"
)

// Routes of Walrus's storage node beyond the protocol's core (spec §5.3).
const (
	// RouteDecodingSymbols answers GET with the BCS map<u16, vector<EitherDecodingSymbol>>
	// (blob.DecodingSymbols): for each target sliver, the node's symbols towards it, without
	// proofs.
	RouteDecodingSymbols = "/v1/blobs/{blob_id}/decodingSymbols"
	// RouteAPIDocs is the node's Redoc page; its OpenAPI document is RouteAPIDocs + "/openapi.json".
	RouteAPIDocs = "/v1/api"

	// QueryTargetSlivers is the repeated target sliver index of a decoding-symbol request
	// (with QueryTargetType).
	QueryTargetSlivers = "targetSlivers"
)

// DecodingSymbolsPath returns the path and query of a request for the decoding symbols the
// node gives towards the slivers targets of axis targetType ("primary" or "secondary").
func DecodingSymbolsPath(blobID string, targets []int, targetType string) string {
	q := url.Values{QueryTargetType: {targetType}}
	for _, t := range targets {
		q.Add(QueryTargetSlivers, strconv.Itoa(t))
	}
	return "/v1/blobs/" + blobID + "/decodingSymbols?" + q.Encode()
}
