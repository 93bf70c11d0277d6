package storagenode

// Storage challenges (Floe's own; Walrus has none). A challenged node POSTs its answer
// (internal/challenge's binary encoding, signed by the node) to every other committee member,
// which answers with its signed attestation (SignedMessage over a ChallengeAttestation:
// pass, or fail for an answer that proves the node lacks what it was asked for).
const (
	RouteChallengeAnswer = "/v1/challenges/answer" // POST, Floe extension
)

// Reasons of the challenge route's errors.
const (
	// ReasonNoChallenge: the node named in the answer is not challenged in that round (the
	// round is unknown, its seed is not fixed, or the node already passed or failed).
	ReasonNoChallenge = "NO_CHALLENGE"
	// ReasonInvalidAnswer: the answer is not the node's (bad signature) or not for its samples.
	ReasonInvalidAnswer = "INVALID_CHALLENGE_ANSWER"
	// ReasonExcuseRejected: the answer excuses a sample whose blob the control plane still
	// has certified; the node should prove it (no attestation is given either way).
	ReasonExcuseRejected = "CHALLENGE_EXCUSE_REJECTED"
)

// ChallengeHealth is the node's part in the storage challenges of its current epoch, as its
// health route reports it (Floe's addition to Walrus's health).
type ChallengeHealth struct {
	// Epoch is the current epoch; Rounds are the node's rounds of the previous epoch and of
	// this one, oldest first.
	Epoch  uint32                 `json:"epoch"`
	Rounds []ChallengeRoundHealth `json:"rounds"`
	// The node's record since genesis (from the control plane).
	RoundsPassed            uint64 `json:"roundsPassed"`
	RoundsFailed            uint64 `json:"roundsFailed"`
	RoundsMissed            uint64 `json:"roundsMissed"`
	EpochsFailed            uint64 `json:"epochsFailed"`
	ConsecutiveFailedEpochs uint32 `json:"consecutiveFailedEpochs"`
	RewardsEarned           uint64 `json:"rewardsEarned"`
	// RewardsHeld: of epochs with a pending or missed round, paid once the node passes an
	// epoch's rounds (api/controlplane's Accountability.RewardsHeld); RewardsHeldPaid: held
	// rewards paid so (in RewardsEarned too).
	RewardsHeld     uint64 `json:"rewardsHeld"`
	RewardsHeldPaid uint64 `json:"rewardsHeldPaid"`
	RewardsWithheld uint64 `json:"rewardsWithheld"`
	Slashed         uint64 `json:"slashed"`
	// What the node did as prover and verifier since it started.
	AnswersSent        uint64 `json:"answersSent"`
	AttestationsPassed uint64 `json:"attestationsPassed"`
	AttestationsFailed uint64 `json:"attestationsFailed"`
	// LastError is the last reason the node could not answer yet (empty when none).
	LastError string `json:"lastError,omitempty"`
}

// ChallengeRoundHealth is the node's status in one round: awaiting_seed, challenged, passed,
// failed, missed or void (api/controlplane's ChallengeStatus).
type ChallengeRoundHealth struct {
	Epoch      uint32 `json:"epoch"`
	Round      uint32 `json:"round"`
	Status     string `json:"status"`
	Samples    int    `json:"samples"`
	PassWeight int    `json:"passWeight"`
	FailWeight int    `json:"failWeight"`
}
