package controlplane

import "errors"

// Errors a transaction can be rejected with. TxResult.Code carries the name of the sentinel so
// that clients across the API can match on it.
var (
	ErrInvalidTx           = errors.New("invalid transaction")
	ErrBadSignature        = errors.New("bad signature")
	ErrWrongChain          = errors.New("wrong chain ID")
	ErrBadNonce            = errors.New("wrong nonce")
	ErrInsufficientBalance = errors.New("insufficient balance")
	ErrNotFound            = errors.New("object not found")
	ErrNotOwner            = errors.New("sender does not own the object")
	ErrNoCommittee         = errors.New("no committee in this epoch")
	ErrStorageTooSmall     = errors.New("storage too small for the encoded blob")
	ErrStorageEpochs       = errors.New("storage does not cover the current epoch")
	ErrBlobIDMismatch      = errors.New("blob ID does not derive from the encoding type, size and root hash")
	ErrCertificate         = errors.New("invalid certificate")
	ErrWrongEpoch          = errors.New("certificate from the wrong epoch")
	ErrWrongMessage        = errors.New("certificate over the wrong message")
	ErrAlreadyCertified    = errors.New("blob already certified")
	ErrNotCertified        = errors.New("blob not certified")
	ErrExpired             = errors.New("expired")
	ErrPermanentBlob       = errors.New("permanent blobs cannot be deleted")
	ErrCapacity            = errors.New("reservation exceeds the system capacity")
	ErrEpochsAhead         = errors.New("too many epochs ahead")
	ErrInvalidBlob         = errors.New("blob ID was marked invalid")
	ErrBadPoP              = errors.New("invalid proof of possession")
	ErrStake               = errors.New("invalid stake operation")
	ErrOverflow            = errors.New("amount overflows")
)

var errorCodes = []struct {
	err  error
	code string
}{
	{ErrBadSignature, "bad_signature"},
	{ErrWrongChain, "wrong_chain"},
	{ErrBadNonce, "bad_nonce"},
	{ErrInsufficientBalance, "insufficient_balance"},
	{ErrNotFound, "not_found"},
	{ErrNotOwner, "not_owner"},
	{ErrNoCommittee, "no_committee"},
	{ErrStorageTooSmall, "storage_too_small"},
	{ErrStorageEpochs, "storage_epochs"},
	{ErrBlobIDMismatch, "blob_id_mismatch"},
	{ErrWrongEpoch, "wrong_epoch"},
	{ErrWrongMessage, "wrong_message"},
	{ErrCertificate, "invalid_certificate"},
	{ErrAlreadyCertified, "already_certified"},
	{ErrNotCertified, "not_certified"},
	{ErrExpired, "expired"},
	{ErrPermanentBlob, "permanent_blob"},
	{ErrCapacity, "capacity_exceeded"},
	{ErrEpochsAhead, "epochs_ahead"},
	{ErrInvalidBlob, "invalid_blob"},
	{ErrBadPoP, "bad_proof_of_possession"},
	{ErrStake, "stake"},
	{ErrOverflow, "overflow"},
	{ErrInvalidTx, "invalid_tx"},
}

// ErrorCode returns the stable code of err ("" for nil, "internal" if unknown).
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	for _, e := range errorCodes {
		if errors.Is(err, e.err) {
			return e.code
		}
	}
	return "internal"
}

// ErrorForCode returns the sentinel error with the given code, or nil.
func ErrorForCode(code string) error {
	for _, e := range errorCodes {
		if e.code == code {
			return e.err
		}
	}
	return nil
}
