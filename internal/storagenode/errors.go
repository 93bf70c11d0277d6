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
}{
	{engine.ErrNotRegistered, api.StatusFailedPrecondition, api.ReasonNotRegistered},
	{engine.ErrSliverIndexMismatch, api.StatusInvalidArgument, api.ReasonSliverIndexMismatch},
	{engine.ErrMetadataNotFound, api.StatusNotFound, api.ReasonMetadataNotFound},
	{engine.ErrMetadataRequired, api.StatusFailedPrecondition, api.ReasonMetadataNotFound},
	{engine.ErrInvalidSliver, api.StatusInvalidArgument, api.ReasonInvalidSliver},
	{engine.ErrInvalidMetadata, api.StatusInvalidArgument, api.ReasonInvalidMetadata},
	{engine.ErrInvalidBlob, api.StatusFailedPrecondition, api.ReasonInvalidBlob},
	{engine.ErrMissingSlivers, api.StatusFailedPrecondition, api.ReasonMissingSlivers},
	{engine.ErrSliverNotFound, api.StatusNotFound, api.ReasonSliverNotFound},
	{engine.ErrShardNotAssigned, api.StatusFailedPrecondition, api.ReasonShardNotAssigned},
	{engine.ErrBadBlobID, api.StatusInvalidArgument, api.ReasonInvalidBlobID},
	{engine.ErrBadPairIndex, api.StatusInvalidArgument, api.ReasonInvalidPairIndex},
	{engine.ErrBadSliverType, api.StatusInvalidArgument, api.ReasonInvalidSliverType},
	{engine.ErrBadObjectID, api.StatusInvalidArgument, api.ReasonInvalidObjectID},
	{engine.ErrBadQuery, api.StatusInvalidArgument, api.ReasonInvalidQuery},
	{engine.ErrMalformedBody, api.StatusInvalidArgument, api.ReasonMalformedBody},
	{engine.ErrTruncatedBody, api.StatusInvalidArgument, api.ReasonTruncatedBody},
	{engine.ErrBodyTooLarge, api.StatusSizeExceeded, api.ReasonBodyTooLarge},
	{engine.ErrCacheSaturated, api.StatusResourceExhausted, api.ReasonCacheSaturated},
	{engine.ErrUnsupportedMedia, api.StatusUnsupportedMedia, api.ReasonUnsupportedMedia},
	{engine.ErrNotInCommittee, api.StatusUnavailable, api.ReasonNoCommittee},
	{engine.ErrBusy, api.StatusUnavailable, api.ReasonBusy},
	{engine.ErrInvalidProof, api.StatusInvalidArgument, api.ReasonInvalidProof},
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
	meta := engine.Details(err)
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
