package s3gw

import (
	"context"
	"errors"
	"fmt"

	"github.com/rclone/gofakes3"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/client"
)

// Errors of the gateway. toS3 maps them (and the SDK's) to S3 error codes, in one place.
var (
	// ErrInvalidConfig: the configuration is unusable.
	ErrInvalidConfig = errors.New("s3gw: invalid configuration")

	errNotOurs          = errors.New("s3gw: not a gateway object")
	errBadRecord        = errors.New("s3gw: malformed gateway attributes")
	errBadManifest      = errors.New("s3gw: malformed manifest")
	errBadKey           = errors.New("s3gw: invalid object key")
	errMetadataTooLarge = errors.New("s3gw: metadata too large")
	errAttrTooLong      = errors.New("s3gw: attribute too long")
	errNoIdentity       = errors.New("s3gw: request without an authenticated access key")
	errTooLarge         = errors.New("s3gw: object too large")
	errShortBody        = errors.New("s3gw: request body shorter than its length")
	errLongBody         = errors.New("s3gw: request body longer than its length")
	errBadEpochs        = errors.New("s3gw: invalid epochs")
)

func parseBlobID(s string) (blob.ID, error) { return blob.ParseID(s) }

// s3Error is an error that already carries its S3 code.
type s3Error interface {
	error
	ErrorCode() gofakes3.ErrorCode
}

// toS3 returns err as the library's error value for its S3 code (the library recognises only
// its own error values, unwrapped).
func toS3(err error) error {
	if err == nil {
		return nil
	}
	var se s3Error
	if errors.As(err, &se) {
		return se
	}
	switch {
	case errors.Is(err, errBadKey):
		return gofakes3.ErrorMessage(gofakes3.ErrInvalidArgument, err.Error())
	case errors.Is(err, errMetadataTooLarge), errors.Is(err, errAttrTooLong):
		return gofakes3.ErrorMessage(gofakes3.ErrMetadataTooLarge, err.Error())
	case errors.Is(err, errBadEpochs):
		return gofakes3.ErrorMessage(gofakes3.ErrInvalidArgument, err.Error())
	case errors.Is(err, errTooLarge), errors.Is(err, client.ErrBlobTooLarge):
		return gofakes3.ErrorMessage(gofakes3.ErrEntityTooLarge, err.Error())
	case errors.Is(err, errShortBody), errors.Is(err, errLongBody):
		return gofakes3.ErrorMessage(gofakes3.ErrIncompleteBody, err.Error())
	case errors.Is(err, client.ErrInvalidRange):
		return gofakes3.ErrInvalidRange
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return gofakes3.ErrorMessage(gofakes3.ErrInternal, "request ended: "+err.Error())
	}
	return gofakes3.ErrorMessage(gofakes3.ErrInternal, fmt.Sprintf("floe: %v", err))
}
