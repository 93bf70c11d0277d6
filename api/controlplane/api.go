// Package controlplane holds the wire types of Floe's control-plane HTTP API, shared by the
// server (internal/controlplane/cpserver), served the same way by the embedded and the
// replicated drivers, and its Go client (internal/controlplane/cpclient). It has no logic.
//
// All bodies are JSON. Addresses and object IDs are "0x" + 64 hex digits; blob IDs are
// URL-safe unpadded base64 (43 characters); byte strings are standard base64.
//
// Routes:
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
//	GET  /v1/committees/{epoch|current}    committee, shard assignment and prices of an epoch
//	GET  /v1/nodes                         registered storage nodes
//	GET  /v1/events?from=S&limit=L&wait=D  EventsResponse: events with seq >= S; waits up to D
//	                                       (a Go duration, at most 60s) when there are none yet
//
// A request the server rejects gets a 4xx or 5xx status with ErrorResponse. A transaction
// rejected at admission (malformed, bad signature, wrong chain, used nonce) gets 400 and never
// enters a block; a transaction that entered a block gets 200 with its outcome, whose Code is
// empty on success and names the error otherwise.
package controlplane

import (
	"github.com/floelabs/floe/internal/controlplane"
)

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
	PathEvents       = "/v1/events"
)

// MaxEventsWait bounds the long-poll wait of PathEvents.
const MaxEventsWait = 60_000 // milliseconds

// SubmitRequest carries a signed transaction in its wire form.
type SubmitRequest struct {
	Tx []byte `json:"tx"`
}

// SubmitResponse is the outcome of an included transaction.
type SubmitResponse = controlplane.Included

// ErrorResponse is the body of every error status.
type ErrorResponse struct {
	Code  string `json:"code"`
	Error string `json:"error"`
}

// AccountResponse is an account's balance and next nonce.
type AccountResponse struct {
	Address controlplane.Address `json:"address"`
	Balance uint64               `json:"balance"`
	Nonce   uint64               `json:"nonce"`
}

// ObjectResponse is one object; exactly one field is set.
type ObjectResponse struct {
	Blob    *controlplane.Blob    `json:"blob,omitempty"`
	Storage *controlplane.Storage `json:"storage,omitempty"`
	Node    *controlplane.Node    `json:"node,omitempty"`
	Stake   *controlplane.Stake   `json:"stake,omitempty"`
}

// EventsResponse is a page of events; Next is the cursor for the following request.
type EventsResponse struct {
	Events []controlplane.Event `json:"events"`
	Next   uint64               `json:"next"`
}

// Cost is what storing a blob costs at the current prices.
type Cost struct {
	Size          uint64 `json:"size"`
	Epochs        uint32 `json:"epochs"`
	EncodedLength uint64 `json:"encoded_length"`
	StorageCost   uint64 `json:"storage_cost"`
	WriteFee      uint64 `json:"write_fee"`
	Total         uint64 `json:"total"`
}

// Info, prices and the other query results are the state machine's own types.
type (
	Info       = controlplane.Info
	Prices     = controlplane.Prices
	Params     = controlplane.Params
	Committee  = controlplane.Committee
	BlobStatus = controlplane.BlobStatus
	Blob       = controlplane.Blob
	Owned      = controlplane.Owned
	Stake      = controlplane.Stake
	Node       = controlplane.Node
	Event      = controlplane.Event
)
