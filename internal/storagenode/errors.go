package storagenode

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	api "github.com/floelabs/floe/api/storagenode"
)

// Request errors. Handlers wrap one of them with %w; writeError maps them to the HTTP status,
// AIP-193 status and reason (the only place that does).
var (
	ErrNotRegistered       = errors.New("blob is not registered")
	ErrSliverIndexMismatch = errors.New("sliver index does not match the pair index")
	ErrMetadataNotFound    = errors.New("metadata not found")
	ErrMetadataRequired    = errors.New("metadata must be stored before slivers")
	ErrInvalidSliver       = errors.New("invalid sliver")
	ErrInvalidMetadata     = errors.New("invalid metadata")
	ErrInvalidBlob         = errors.New("blob was marked invalid")
	ErrMissingSlivers      = errors.New("node does not hold every sliver it must store")
	ErrSliverNotFound      = errors.New("sliver not found")
	ErrShardNotAssigned    = errors.New("shard is not assigned to this node")
	ErrBadBlobID           = errors.New("invalid blob ID")
	ErrBadPairIndex        = errors.New("invalid sliver pair index")
	ErrBadSliverType       = errors.New("invalid sliver type")
	ErrBadObjectID         = errors.New("invalid object ID")
	ErrBadQuery            = errors.New("invalid query")
	ErrMalformedBody       = errors.New("malformed request body")
	ErrTruncatedBody       = errors.New("truncated request body")
	ErrBodyTooLarge        = errors.New("request body too large")
	ErrCacheSaturated      = errors.New("pending upload buffer is full")
	ErrUnsupportedMedia    = errors.New("unsupported content type")
	ErrNotInCommittee      = errors.New("node has no committee view yet")
	ErrBusy                = errors.New("node is busy")
)

var errorTable = []struct {
	err    error
	status string
	reason string
}{
	{ErrNotRegistered, api.StatusFailedPrecondition, api.ReasonNotRegistered},
	{ErrSliverIndexMismatch, api.StatusInvalidArgument, api.ReasonSliverIndexMismatch},
	{ErrMetadataNotFound, api.StatusNotFound, api.ReasonMetadataNotFound},
	{ErrMetadataRequired, api.StatusFailedPrecondition, api.ReasonMetadataNotFound},
	{ErrInvalidSliver, api.StatusInvalidArgument, api.ReasonInvalidSliver},
	{ErrInvalidMetadata, api.StatusInvalidArgument, api.ReasonInvalidMetadata},
	{ErrInvalidBlob, api.StatusFailedPrecondition, api.ReasonInvalidBlob},
	{ErrMissingSlivers, api.StatusFailedPrecondition, api.ReasonMissingSlivers},
	{ErrSliverNotFound, api.StatusNotFound, api.ReasonSliverNotFound},
	{ErrShardNotAssigned, api.StatusFailedPrecondition, api.ReasonShardNotAssigned},
	{ErrBadBlobID, api.StatusInvalidArgument, api.ReasonInvalidBlobID},
	{ErrBadPairIndex, api.StatusInvalidArgument, api.ReasonInvalidPairIndex},
	{ErrBadSliverType, api.StatusInvalidArgument, api.ReasonInvalidSliverType},
	{ErrBadObjectID, api.StatusInvalidArgument, api.ReasonInvalidObjectID},
	{ErrBadQuery, api.StatusInvalidArgument, api.ReasonInvalidQuery},
	{ErrMalformedBody, api.StatusInvalidArgument, api.ReasonMalformedBody},
	{ErrTruncatedBody, api.StatusInvalidArgument, api.ReasonTruncatedBody},
	{ErrBodyTooLarge, api.StatusSizeExceeded, api.ReasonBodyTooLarge},
	{ErrCacheSaturated, api.StatusResourceExhausted, api.ReasonCacheSaturated},
	{ErrUnsupportedMedia, api.StatusUnsupportedMedia, api.ReasonUnsupportedMedia},
	{ErrNotInCommittee, api.StatusUnavailable, api.ReasonNoCommittee},
	{ErrBusy, api.StatusUnavailable, api.ReasonBusy},
	{ErrInvalidProof, api.StatusInvalidArgument, api.ReasonInvalidProof},
}

// requestError carries metadata for the ErrorInfo detail of an error response.
type requestError struct {
	err  error
	meta map[string]string
}

func (e *requestError) Error() string { return e.err.Error() }
func (e *requestError) Unwrap() error { return e.err }

func withMeta(err error, kv ...string) error {
	m := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return &requestError{err: err, meta: m}
}

// errorBody returns the AIP-193 body of err.
func errorBody(err error) api.ErrorBody {
	status, reason, msg := api.StatusInternal, api.ReasonInternal, "internal error"
	for _, e := range errorTable {
		if errors.Is(err, e.err) {
			status, reason, msg = e.status, e.reason, err.Error()
			break
		}
	}
	var meta map[string]string
	var re *requestError
	if errors.As(err, &re) {
		meta = re.meta
	}
	return api.ErrorBody{
		Code: api.HTTPStatus(status), Status: status, Message: msg,
		Details: []api.ErrorInfo{{Type: api.ErrorInfoType, Reason: reason, Domain: api.Domain, Metadata: meta}},
	}
}

// writeError writes the error envelope of err; internal errors are logged and not shown.
func writeError(w http.ResponseWriter, log *slog.Logger, r *http.Request, err error) {
	body := errorBody(err)
	if body.Code >= 500 {
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	} else {
		log.Debug("request rejected", "method", r.Method, "path", r.URL.Path, "reason", body.Reason(), "err", err)
	}
	writeJSONStatus(w, body.Code, api.Error{Error: body})
}

// writeSuccess writes the success envelope.
func writeSuccess[T any](w http.ResponseWriter, code int, data T) {
	writeJSONStatus(w, code, api.Success[T]{Success: api.SuccessBody[T]{Code: code, Data: data}})
}

func writeJSONStatus(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":{"code":500,"status":"INTERNAL","message":"encoding the response failed"}}`)
	}
	w.Header().Set("Content-Type", api.ContentTypeJSON)
	w.WriteHeader(code)
	_, _ = w.Write(b)
}
