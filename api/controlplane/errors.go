package controlplane

// Error codes: the stable strings in ErrorResponse.Code and TxResult.Code. Clients match on
// these, never on messages.
const (
	// Transaction errors (a rejected submission, or a failed transaction's outcome).
	CodeInvalidTx            = "invalid_tx"
	CodeBadSignature         = "bad_signature"
	CodeWrongChain           = "wrong_chain"
	CodeBadNonce             = "bad_nonce"
	CodeInsufficientBalance  = "insufficient_balance"
	CodeNotFound             = "not_found"
	CodeNotOwner             = "not_owner"
	CodeNoCommittee          = "no_committee"
	CodeStorageTooSmall      = "storage_too_small"
	CodeStorageEpochs        = "storage_epochs"
	CodeBlobIDMismatch       = "blob_id_mismatch"
	CodeWrongEpoch           = "wrong_epoch"
	CodeWrongMessage         = "wrong_message"
	CodeInvalidCertificate   = "invalid_certificate"
	CodeAlreadyCertified     = "already_certified"
	CodeNotCertified         = "not_certified"
	CodeExpired              = "expired"
	CodePermanentBlob        = "permanent_blob"
	CodeCapacityExceeded     = "capacity_exceeded"
	CodeEpochsAhead          = "epochs_ahead"
	CodeInvalidBlob          = "invalid_blob"
	CodeBadProofOfPossession = "bad_proof_of_possession"
	CodeStake                = "stake"
	CodeOverflow             = "overflow"
	CodeChallenge            = "challenge"
	CodeNotShared            = "not_shared"
	CodeEpochSync            = "epoch_sync"
	CodeInternal             = "internal"

	// Request errors.
	// CodeEventsPruned (410 Gone): the events asked for were pruned; ErrorResponse.OldestSeq
	// is the oldest retained. A follower catches up from a listing of the state (PathState).
	CodeEventsPruned = "events_pruned"
	CodeBadRequest   = "bad_request"
	CodeTimeout      = "timeout"
	CodeUnavailable  = "unavailable"
)

// ErrorResponse is the body of every error status.
type ErrorResponse struct {
	Code  string `json:"code"`
	Error string `json:"error"`
	// OldestSeq is the oldest retained event's sequence number (CodeEventsPruned only).
	OldestSeq *uint64 `json:"oldest_seq,omitempty"`
}
