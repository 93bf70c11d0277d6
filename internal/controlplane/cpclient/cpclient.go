// Package cpclient is the Go client of the control-plane HTTP API
// (github.com/floelabs/floe/api/controlplane): submit signed transactions and wait for their
// outcome, query state, and follow events from a cursor. It works the same against the
// embedded and the replicated drivers.
package cpclient

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	api "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/crypto"
)

// Errors the control plane answers with, one per stable code of api/controlplane: an *Error
// matches (errors.Is) the sentinel of its code.
var (
	// ErrNotFound: an unknown object, account or committee (code not_found).
	ErrNotFound            = errors.New("cpclient: not found")
	ErrInvalidTx           = errors.New("cpclient: invalid transaction")
	ErrBadSignature        = errors.New("cpclient: bad signature")
	ErrWrongChain          = errors.New("cpclient: wrong chain ID")
	ErrBadNonce            = errors.New("cpclient: wrong nonce")
	ErrInsufficientBalance = errors.New("cpclient: insufficient balance")
	ErrNotOwner            = errors.New("cpclient: sender does not own the object")
	ErrNoCommittee         = errors.New("cpclient: no committee in this epoch")
	ErrStorageTooSmall     = errors.New("cpclient: storage too small for the encoded blob")
	ErrStorageEpochs       = errors.New("cpclient: storage does not cover the current epoch")
	ErrBlobIDMismatch      = errors.New("cpclient: blob ID does not derive from its encoding")
	ErrWrongEpoch          = errors.New("cpclient: certificate from the wrong epoch")
	ErrWrongMessage        = errors.New("cpclient: certificate over the wrong message")
	ErrCertificate         = errors.New("cpclient: invalid certificate")
	ErrAlreadyCertified    = errors.New("cpclient: blob already certified")
	ErrNotCertified        = errors.New("cpclient: blob not certified")
	ErrExpired             = errors.New("cpclient: expired")
	ErrPermanentBlob       = errors.New("cpclient: permanent blobs cannot be deleted")
	ErrCapacity            = errors.New("cpclient: reservation exceeds the system capacity")
	ErrEpochsAhead         = errors.New("cpclient: too many epochs ahead")
	ErrInvalidBlob         = errors.New("cpclient: blob ID was marked invalid")
	ErrBadPoP              = errors.New("cpclient: invalid proof of possession")
	ErrStake               = errors.New("cpclient: invalid stake operation")
	ErrOverflow            = errors.New("cpclient: amount overflows")
	ErrChallenge           = errors.New("cpclient: invalid storage challenge operation")
	ErrNotShared           = errors.New("cpclient: the blob object is not shared")
	ErrBadRequest          = errors.New("cpclient: bad request")
	// ErrEventsPruned: the events asked for were pruned (matched by *EventsPrunedError).
	ErrEventsPruned = errors.New("cpclient: events pruned")
	ErrUnavailable  = errors.New("cpclient: control plane unavailable")
)

var sentinels = map[string]error{
	api.CodeNotFound:             ErrNotFound,
	api.CodeInvalidTx:            ErrInvalidTx,
	api.CodeBadSignature:         ErrBadSignature,
	api.CodeWrongChain:           ErrWrongChain,
	api.CodeBadNonce:             ErrBadNonce,
	api.CodeInsufficientBalance:  ErrInsufficientBalance,
	api.CodeNotOwner:             ErrNotOwner,
	api.CodeNoCommittee:          ErrNoCommittee,
	api.CodeStorageTooSmall:      ErrStorageTooSmall,
	api.CodeStorageEpochs:        ErrStorageEpochs,
	api.CodeBlobIDMismatch:       ErrBlobIDMismatch,
	api.CodeWrongEpoch:           ErrWrongEpoch,
	api.CodeWrongMessage:         ErrWrongMessage,
	api.CodeInvalidCertificate:   ErrCertificate,
	api.CodeAlreadyCertified:     ErrAlreadyCertified,
	api.CodeNotCertified:         ErrNotCertified,
	api.CodeExpired:              ErrExpired,
	api.CodePermanentBlob:        ErrPermanentBlob,
	api.CodeCapacityExceeded:     ErrCapacity,
	api.CodeEpochsAhead:          ErrEpochsAhead,
	api.CodeInvalidBlob:          ErrInvalidBlob,
	api.CodeBadProofOfPossession: ErrBadPoP,
	api.CodeStake:                ErrStake,
	api.CodeOverflow:             ErrOverflow,
	api.CodeChallenge:            ErrChallenge,
	api.CodeNotShared:            ErrNotShared,
	api.CodeBadRequest:           ErrBadRequest,
	api.CodeUnavailable:          ErrUnavailable,
	api.CodeEventsPruned:         ErrEventsPruned,
}

// EventsPrunedError is the answer to a request for events older than the oldest the control
// plane retains: the follower must catch up from a listing of the state (ListState) and
// follow events from there. It matches ErrEventsPruned.
type EventsPrunedError struct {
	// Oldest is the oldest retained event's sequence number.
	Oldest uint64
	Msg    string
}

func (e *EventsPrunedError) Error() string {
	return fmt.Sprintf("control plane: %s (oldest retained event %d)", e.Msg, e.Oldest)
}

// Is makes errors.Is(err, ErrEventsPruned) true.
func (e *EventsPrunedError) Is(target error) bool { return target == ErrEventsPruned }

// Error is an error response, or a transaction that was included but failed. It matches
// (errors.Is) the sentinel of its code, so errors.Is(err, cpclient.ErrBadNonce) works across
// the API.
type Error struct {
	Status int
	Code   string
	Msg    string
	// Included is set when the transaction entered a block and failed there.
	Included *api.Included
}

func (e *Error) Error() string {
	return fmt.Sprintf("control plane: %s (%s)", e.Msg, e.Code)
}

// Is reports whether target is the sentinel of e's code.
func (e *Error) Is(target error) bool {
	s := sentinels[e.Code]
	return s != nil && s == target
}

// Client talks to one control-plane API endpoint.
type Client struct {
	base string
	hc   *http.Client

	mu     sync.Mutex
	nonces map[api.Address]uint64
}

// New returns a client for baseURL (e.g. "http://127.0.0.1:7070"); hc may be nil.
func New(baseURL string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), hc: hc, nonces: map[api.Address]uint64{}}
}

// BaseURL returns the API's base URL.
func (c *Client) BaseURL() string { return c.base }

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("cpclient: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return fmt.Errorf("cpclient: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("cpclient: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var er api.ErrorResponse
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if json.Unmarshal(b, &er) != nil || er.Code == "" {
			er = api.ErrorResponse{Code: "http_" + strconv.Itoa(resp.StatusCode), Error: strings.TrimSpace(string(b))}
		}
		if er.Code == api.CodeEventsPruned && er.OldestSeq != nil {
			return &EventsPrunedError{Oldest: *er.OldestSeq, Msg: er.Error}
		}
		return &Error{Status: resp.StatusCode, Code: er.Code, Msg: er.Error}
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("cpclient: decoding %s: %w", path, err)
	}
	return nil
}

// Submit sends a signed transaction and waits for its block. It returns the outcome and, if
// the transaction was rejected or failed in its block, an *Error.
func (c *Client) Submit(ctx context.Context, raw []byte) (*api.Included, error) {
	var inc api.Included
	if err := c.do(ctx, http.MethodPost, api.PathTransactions, api.SubmitRequest{Tx: raw}, &inc); err != nil {
		return nil, err
	}
	if inc.Code != "" {
		return &inc, &Error{Status: http.StatusOK, Code: inc.Code, Msg: inc.Error, Included: &inc}
	}
	return &inc, nil
}

// Execute signs op with key using the account's next nonce (fetched once, then tracked by the
// client; calls for one key must not overlap), submits it and waits. A rejection that was
// not included (for example a nonce already used by another client) drops the tracked nonce so
// the next call fetches it again.
func (c *Client) Execute(ctx context.Context, chainID string, key *crypto.AccountKey, op api.Op) (*api.Included, error) {
	// The cached nonce goes stale when another program (the CLI, another client) sends from
	// the same account; a transaction refused for its nonce consumed nothing, so it is signed
	// again with the account's current nonce.
	const attempts = 3
	for i := 1; ; i++ {
		inc, err := c.execute(ctx, chainID, key, op)
		if err == nil || i == attempts || inc != nil || !errors.Is(err, ErrBadNonce) {
			return inc, err
		}
	}
}

func (c *Client) execute(ctx context.Context, chainID string, key *crypto.AccountKey, op api.Op) (*api.Included, error) {
	a := api.Address(key.Address())
	c.mu.Lock()
	nonce, ok := c.nonces[a]
	c.mu.Unlock()
	if !ok {
		acc, err := c.Account(ctx, a)
		if err != nil {
			return nil, err
		}
		nonce = acc.Nonce
	}
	raw, err := Sign(&api.Tx{ChainID: chainID, Sender: api.PublicKey(key.PublicKey()), Nonce: nonce, Op: op}, key)
	if err != nil {
		return nil, err
	}
	inc, err := c.Submit(ctx, raw)
	c.mu.Lock()
	if inc != nil {
		c.nonces[a] = nonce + 1
	} else {
		delete(c.nonces, a)
	}
	c.mu.Unlock()
	return inc, err
}

// Sign encodes tx in its wire form and signs it with an account key (whose public key must be
// tx.Sender).
func Sign(tx *api.Tx, key *crypto.AccountKey) ([]byte, error) {
	return api.Sign(tx, ed25519.NewKeyFromSeed(key.Seed()))
}

// Info returns the system summary.
func (c *Client) Info(ctx context.Context) (*api.Info, error) {
	var v api.Info
	return &v, c.do(ctx, http.MethodGet, api.PathInfo, nil, &v)
}

// Params returns the system parameters.
func (c *Client) Params(ctx context.Context) (*api.Params, error) {
	var v api.Params
	return &v, c.do(ctx, http.MethodGet, api.PathParams, nil, &v)
}

// Prices returns the current prices.
func (c *Client) Prices(ctx context.Context) (*api.Prices, error) {
	var v api.Prices
	return &v, c.do(ctx, http.MethodGet, api.PathPrices, nil, &v)
}

// Cost returns the cost of storing size bytes for epochs epochs.
func (c *Client) Cost(ctx context.Context, size uint64, epochs uint32) (*api.Cost, error) {
	var v api.Cost
	q := url.Values{"size": {strconv.FormatUint(size, 10)}, "epochs": {strconv.FormatUint(uint64(epochs), 10)}}
	return &v, c.do(ctx, http.MethodGet, api.PathCost+"?"+q.Encode(), nil, &v)
}

// Account returns an account's balance and next nonce.
func (c *Client) Account(ctx context.Context, a api.Address) (*api.Account, error) {
	var v api.Account
	return &v, c.do(ctx, http.MethodGet, api.PathAccounts+a.String(), nil, &v)
}

// Owned returns the storage resources and blobs of an owner.
func (c *Client) Owned(ctx context.Context, a api.Address) (*api.Owned, error) {
	var v api.Owned
	return &v, c.do(ctx, http.MethodGet, api.PathAccounts+a.String()+"/objects", nil, &v)
}

// Stakes returns the stakes of an owner.
func (c *Client) Stakes(ctx context.Context, a api.Address) ([]api.Stake, error) {
	var v []api.Stake
	return v, c.do(ctx, http.MethodGet, api.PathAccounts+a.String()+"/stakes", nil, &v)
}

// BlobStatus returns the Walrus status of a blob ID.
func (c *Client) BlobStatus(ctx context.Context, id blob.ID) (*api.BlobStatus, error) {
	var v api.BlobStatus
	return &v, c.do(ctx, http.MethodGet, api.PathBlobs+id.String()+"/status", nil, &v)
}

// BlobObjects returns the blob objects registered for a blob ID.
func (c *Client) BlobObjects(ctx context.Context, id blob.ID) ([]api.Blob, error) {
	var v []api.Blob
	return v, c.do(ctx, http.MethodGet, api.PathBlobs+id.String()+"/objects", nil, &v)
}

// Object returns a blob, storage resource, node or stake by object ID.
func (c *Client) Object(ctx context.Context, id api.ObjectID) (*api.ObjectResponse, error) {
	var v api.ObjectResponse
	return &v, c.do(ctx, http.MethodGet, api.PathObjects+id.String(), nil, &v)
}

// Committee returns the committee of an epoch.
func (c *Client) Committee(ctx context.Context, epoch uint32) (*api.Committee, error) {
	var v api.Committee
	return &v, c.do(ctx, http.MethodGet, api.PathCommittees+strconv.FormatUint(uint64(epoch), 10), nil, &v)
}

// CurrentCommittee returns the committee of the current epoch.
func (c *Client) CurrentCommittee(ctx context.Context) (*api.Committee, error) {
	var v api.Committee
	return &v, c.do(ctx, http.MethodGet, api.PathCommittees+"current", nil, &v)
}

// ReadCommittees returns the current committee and, while the change to the current epoch
// is in progress, the previous one.
func (c *Client) ReadCommittees(ctx context.Context) (*api.ReadCommittees, error) {
	var v api.ReadCommittees
	return &v, c.do(ctx, http.MethodGet, api.PathCommittees+"read", nil, &v)
}

// NextCommittee returns the committee of the next epoch (ErrNotFound before voting end).
func (c *Client) NextCommittee(ctx context.Context) (*api.Committee, error) {
	var v api.Committee
	return &v, c.do(ctx, http.MethodGet, api.PathCommittees+"next", nil, &v)
}

// NodeInfo returns a node's status, stake and shards now and next.
func (c *Client) NodeInfo(ctx context.Context, id api.ObjectID) (*api.NodeInfo, error) {
	var v api.NodeInfo
	return &v, c.do(ctx, http.MethodGet, api.PathNodes+"/"+id.String(), nil, &v)
}

// Validators returns the CometBFT validator set the control plane keeps.
func (c *Client) Validators(ctx context.Context) ([]api.Validator, error) {
	var v []api.Validator
	return v, c.do(ctx, http.MethodGet, api.PathValidators, nil, &v)
}

// Nodes returns the registered storage nodes.
func (c *Client) Nodes(ctx context.Context) ([]api.Node, error) {
	var v []api.Node
	return v, c.do(ctx, http.MethodGet, api.PathNodes, nil, &v)
}

// Events returns up to limit events from sequence number from on, waiting up to wait for the
// first one; the next cursor is the returned Next.
func (c *Client) Events(ctx context.Context, from uint64, limit int, wait time.Duration) (*api.EventsResponse, error) {
	var v api.EventsResponse
	q := url.Values{"from": {strconv.FormatUint(from, 10)}, "limit": {strconv.Itoa(limit)}, "wait": {wait.String()}}
	return &v, c.do(ctx, http.MethodGet, api.PathEvents+"?"+q.Encode(), nil, &v)
}

// StatePage returns one page of the listing of the state's blob objects and invalid blob IDs
// (cursor "" for the first; limit 0 for the server's default).
func (c *Client) StatePage(ctx context.Context, cursor string, limit int) (*api.StatePage, error) {
	q := url.Values{}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	path := api.PathState
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var v api.StatePage
	return &v, c.do(ctx, http.MethodGet, path, nil, &v)
}

// ListState pages through the listing of every blob object and invalid blob ID (limit per
// page, 0 for the server's default), calling f with each page in order, and returns the event
// sequence number to follow events from so that the view built from the listing stays
// complete (the first page's EventSeq; see the catch-up contract in api/controlplane).
func (c *Client) ListState(ctx context.Context, limit int, f func(*api.StatePage) error) (uint64, error) {
	var from uint64
	cursor := ""
	for first := true; ; first = false {
		p, err := c.StatePage(ctx, cursor, limit)
		if err != nil {
			return 0, err
		}
		if first {
			from = p.EventSeq
		}
		if err := f(p); err != nil {
			return 0, err
		}
		if p.Next == "" {
			return from, nil
		}
		cursor = p.Next
	}
}

// Follow calls f for every event from sequence number from on, in order, until ctx ends or f
// returns an error. Transient request errors are retried after a pause; events that were
// pruned end it with an *EventsPrunedError.
func (c *Client) Follow(ctx context.Context, from uint64, f func(api.Event) error) error {
	for {
		page, err := c.Events(ctx, from, 500, 30*time.Second)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, ErrEventsPruned) {
				return err
			}
			select {
			case <-time.After(500 * time.Millisecond):
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		for _, e := range page.Events {
			if err := f(e); err != nil {
				return err
			}
		}
		from = page.Next
	}
}
