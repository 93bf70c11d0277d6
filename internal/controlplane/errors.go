package controlplane

import (
	"errors"

	cpapi "github.com/floelabs/floe/api/controlplane"
)

// Errors a transaction can be rejected with. TxResult.Code carries the stable code of the
// sentinel (api/controlplane's Code constants) so that clients across the API can match on it.
var (
	ErrInvalidTx           = cpapi.ErrInvalidTx
	ErrBadSignature        = cpapi.ErrBadSignature
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
	ErrChallenge           = errors.New("invalid storage challenge operation")
	ErrNotShared           = errors.New("the blob object is not shared")
	ErrEpochSync           = errors.New("invalid epoch sync report")
)

var errorCodes = []struct {
	err  error
	code string
}{
	{ErrBadSignature, cpapi.CodeBadSignature},
	{ErrWrongChain, cpapi.CodeWrongChain},
	{ErrBadNonce, cpapi.CodeBadNonce},
	{ErrInsufficientBalance, cpapi.CodeInsufficientBalance},
	{ErrNotFound, cpapi.CodeNotFound},
	{ErrNotOwner, cpapi.CodeNotOwner},
	{ErrNoCommittee, cpapi.CodeNoCommittee},
	{ErrStorageTooSmall, cpapi.CodeStorageTooSmall},
	{ErrStorageEpochs, cpapi.CodeStorageEpochs},
	{ErrBlobIDMismatch, cpapi.CodeBlobIDMismatch},
	{ErrWrongEpoch, cpapi.CodeWrongEpoch},
	{ErrWrongMessage, cpapi.CodeWrongMessage},
	{ErrCertificate, cpapi.CodeInvalidCertificate},
	{ErrAlreadyCertified, cpapi.CodeAlreadyCertified},
	{ErrNotCertified, cpapi.CodeNotCertified},
	{ErrExpired, cpapi.CodeExpired},
	{ErrPermanentBlob, cpapi.CodePermanentBlob},
	{ErrCapacity, cpapi.CodeCapacityExceeded},
	{ErrEpochsAhead, cpapi.CodeEpochsAhead},
	{ErrInvalidBlob, cpapi.CodeInvalidBlob},
	{ErrBadPoP, cpapi.CodeBadProofOfPossession},
	{ErrStake, cpapi.CodeStake},
	{ErrOverflow, cpapi.CodeOverflow},
	{ErrChallenge, cpapi.CodeChallenge},
	{ErrNotShared, cpapi.CodeNotShared},
	{ErrEpochSync, cpapi.CodeEpochSync},
	{ErrInvalidTx, cpapi.CodeInvalidTx},
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
	return cpapi.CodeInternal
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
