package storagenode

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	api "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/internal/storagenode/engine"
)

// errorTable maps the engine's errors onto AIP-193 statuses (hence HTTP status codes) and
// reasons: the only place that does.
var errorTable = []struct {
	err    error
	status string
	reason string
	code   int // the HTTP status, if not the AIP-193 status's usual one
}{
	{ErrBodyTooSlow, api.StatusDeadlineExceeded, api.ReasonBodyTooSlow, http.StatusRequestTimeout},
	{engine.ErrNotRegistered, api.StatusFailedPrecondition, api.ReasonNotRegistered, 0},
	{engine.ErrSliverIndexMismatch, api.StatusInvalidArgument, api.ReasonSliverIndexMismatch, 0},
	{engine.ErrMetadataNotFound, api.StatusNotFound, api.ReasonMetadataNotFound, 0},
	{engine.ErrMetadataRequired, api.StatusFailedPrecondition, api.ReasonMetadataNotFound, 0},
	{engine.ErrInvalidSliver, api.StatusInvalidArgument, api.ReasonInvalidSliver, 0},
	{engine.ErrInvalidMetadata, api.StatusInvalidArgument, api.ReasonInvalidMetadata, 0},
	{engine.ErrInvalidBlob, api.StatusFailedPrecondition, api.ReasonInvalidBlob, 0},
	{engine.ErrMissingSlivers, api.StatusFailedPrecondition, api.ReasonMissingSlivers, 0},
	{engine.ErrSliverNotFound, api.StatusNotFound, api.ReasonSliverNotFound, 0},
	{engine.ErrShardNotAssigned, api.StatusFailedPrecondition, api.ReasonShardNotAssigned, 0},
	{engine.ErrBadBlobID, api.StatusInvalidArgument, api.ReasonInvalidBlobID, 0},
	{engine.ErrBadPairIndex, api.StatusInvalidArgument, api.ReasonInvalidPairIndex, 0},
	{engine.ErrBadSliverType, api.StatusInvalidArgument, api.ReasonInvalidSliverType, 0},
	{engine.ErrBadObjectID, api.StatusInvalidArgument, api.ReasonInvalidObjectID, 0},
	{engine.ErrBadQuery, api.StatusInvalidArgument, api.ReasonInvalidQuery, 0},
	{engine.ErrMalformedBody, api.StatusInvalidArgument, api.ReasonMalformedBody, 0},
	{engine.ErrTruncatedBody, api.StatusInvalidArgument, api.ReasonTruncatedBody, 0},
	{engine.ErrBodyTooLarge, api.StatusSizeExceeded, api.ReasonBodyTooLarge, http.StatusRequestEntityTooLarge},
	{engine.ErrCacheSaturated, api.StatusResourceExhausted, api.ReasonCacheSaturated, 0},
	{engine.ErrUnsupportedMedia, api.StatusUnsupportedMedia, api.ReasonUnsupportedMedia, 0},
	{engine.ErrNotInCommittee, api.StatusUnavailable, api.ReasonNoCommittee, 0},
	{engine.ErrBusy, api.StatusUnavailable, api.ReasonBusy, 0},
	{engine.ErrInvalidProof, api.StatusInvalidArgument, api.ReasonInvalidProof, 0},
	{engine.ErrNoChallenge, api.StatusFailedPrecondition, api.ReasonNoChallenge, 0},
	{engine.ErrInvalidAnswer, api.StatusInvalidArgument, api.ReasonInvalidAnswer, 0},
	{engine.ErrExcuseRejected, api.StatusFailedPrecondition, api.ReasonExcuseRejected, 0},
	{engine.ErrSyncShardDenied, api.StatusPermissionDenied, api.ReasonSyncShardDenied, 0},
	{engine.ErrSyncShardEpoch, api.StatusUnavailable, api.ReasonSyncShardEpoch, 0},
}

// errorBody returns the AIP-193 body of err.
func errorBody(err error) api.ErrorBody {
	status, reason, msg, code := api.StatusInternal, api.ReasonInternal, "internal error", 0
	for _, e := range errorTable {
		if errors.Is(err, e.err) {
			status, reason, msg, code = e.status, e.reason, err.Error(), e.code
			break
		}
	}
	if code == 0 {
		code = api.HTTPStatus(status)
	}
	meta := engine.Details(err)
	return api.ErrorBody{
		Code: code, Status: status, Message: msg,
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
	if body.Code == http.StatusServiceUnavailable || body.Code == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
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
