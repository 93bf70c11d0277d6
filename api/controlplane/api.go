// Package controlplane is the wire vocabulary of Floe's control plane: the signed
// transaction and its operations, events, query results and error codes, and the routes of
// its HTTP API, served the same way by the embedded and the replicated drivers
// (internal/controlplane/cpserver) and spoken by its Go client
// (internal/controlplane/cpclient). The state machine (internal/controlplane) keeps its own
// records and converts at its edge, so nothing here is hashed into the app hash: a field of
// this package can be renamed without forking the chain, and the state can change its records
// without changing the API. It imports nothing of Floe but the public blob package.
//
// All bodies are JSON. Addresses and object IDs are "0x" + 64 hex digits; hashes and account
// public keys are 64 hex digits; blob IDs are URL-safe unpadded base64 (43 characters); BLS
// keys, BLS signatures and other byte strings are standard base64.
//
// # Transactions
//
// A signed transaction on the wire is
//
//	0x01 (version) || uvarint(len(payload)) || payload || ed25519 signature (64 bytes)
//
// where payload is the canonical JSON of Tx (Go's encoding/json of the Tx struct: fields in
// declaration order, map keys sorted, no insignificant white space); a payload that does not
// re-encode to the same bytes is rejected, so every transaction has one encoding and one hash
// (Blake2b-256 of the wire bytes, TxHash). The signature is over "floe-tx-v1:" || payload,
// under the sender's key; the sender's address is Blake2b-256(0x00 || public key). At most
// MaxTxSize bytes.
//
// # Routes
//
//	POST /v1/transactions                  SubmitRequest -> SubmitResponse (waits for the block)
//	GET  /v1/info                          Info: params, height, epoch, prices, committee size
//	GET  /v1/params                        system parameters
//	GET  /v1/prices                        current prices and capacity
//	GET  /v1/cost?size=N&epochs=E          Cost of storing an N-byte blob for E epochs
//	GET  /v1/accounts/{address}            AccountResponse
//	GET  /v1/accounts/{address}/objects    storage resources and blobs owned
//	GET  /v1/accounts/{address}/stakes     stakes owned
//	GET  /v1/blobs/{blob_id}/status        Walrus blob status of a blob ID
//	GET  /v1/blobs/{blob_id}/objects       blob objects registered for a blob ID
//	GET  /v1/objects/{object_id}           ObjectResponse: a blob, storage resource or node
//	GET  /v1/committees/{epoch|current|previous|next}
//	                                       committee, shard assignment and prices of an epoch
//	                                       (next: selected at voting end, 404 before)
//	GET  /v1/committees/read               ReadCommittees: the current committee, and the
//	                                       previous one while the epoch change is in progress
//	GET  /v1/nodes                         registered storage nodes
//	GET  /v1/nodes/{node_id}               NodeInfo: a node's status, stake and shards now and next
//	GET  /v1/validators                    the CometBFT validator set the control plane keeps
//	GET  /v1/events?from=S&limit=L&wait=D  EventsResponse: events with seq >= S; waits up to D
//	                                       (a Go duration, at most 60s) when there are none yet;
//	                                       410 events_pruned (with oldest_seq) if S was pruned
//	GET  /v1/state/blobs?cursor=C&limit=L  StatePage: a page of the listing of every blob object
//	                                       and invalid blob ID (limit 1..10000, default 1000)
//	GET  /v1/challenges/{epoch|current}    ChallengeEpoch: storage-challenge rounds and results
//	GET  /v1/challenges/{e}/{r}/{node_id}  NodeChallenge with its samples
//	GET  /v1/accountability[/{node_id}]    rewards, withheld rewards and slashing per node
//
// # Following events, and catching up
//
// Events are numbered without gaps. A follower asks for events from its cursor and long-polls
// for new ones; every event of the state's blob objects is there (BlobRegistered,
// BlobCertified, BlobExtended, BlobDeleted, ObjectTransferred, InvalidBlobID; expiry is
// implied by end epochs and epoch changes). The control plane keeps a bounded window of
// events: a follower asking for events older than the oldest retained gets 410 Gone with code
// events_pruned and oldest_seq. It then rebuilds its view from a listing of the state:
//
//  1. GET /v1/state/blobs without a cursor, then with each page's Next until it is empty.
//     Each page is read at one state; S, the first page's EventSeq, is the point the listing
//     is consistent from: every object that existed throughout the listing is in it, as of
//     the time its page was read (at S or later).
//  2. Replace the view by the listing (objects, invalid blob IDs).
//  3. Follow events from S, applying each in order as an upsert or a deletion by object ID
//     (or blob ID for InvalidBlobID). Events between S and a page's own EventSeq are applied
//     again to objects that page already shows as changed; applied in order they end in the
//     same state, since each event carries the fields it sets.
//
// S is recent, so it is within the retained window unless the listing took longer than the
// window lasts; then the follower starts over.
//
// A request the server rejects gets a 4xx or 5xx status with ErrorResponse. A transaction
// rejected at admission (malformed, bad signature, wrong chain, used nonce) gets 400 and never
// enters a block; a transaction that entered a block gets 200 with its outcome, whose Code is
// empty on success and names the error otherwise.
package controlplane

// Route paths.
const (
	PathTransactions = "/v1/transactions"
	PathInfo         = "/v1/info"
	PathParams       = "/v1/params"
	PathPrices       = "/v1/prices"
	PathCost         = "/v1/cost"
	PathAccounts     = "/v1/accounts/"
	PathBlobs        = "/v1/blobs/"
	PathObjects      = "/v1/objects/"
	PathCommittees   = "/v1/committees/"
	PathNodes        = "/v1/nodes"
	PathValidators   = "/v1/validators"
	PathEvents       = "/v1/events"
	PathState        = "/v1/state/blobs"
)

// MaxEventsWait bounds the long-poll wait of PathEvents.
const MaxEventsWait = 60_000 // milliseconds

// SubmitRequest carries a signed transaction in its wire form.
type SubmitRequest struct {
	Tx []byte `json:"tx"`
}
