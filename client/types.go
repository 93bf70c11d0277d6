package client

import (
	"fmt"

	"github.com/floelabs/floe/internal/controlplane"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/protocol"
)

// The types of the control plane and of keys that the client's API uses, named here so that
// programs outside the Floe module (which cannot import its internal packages) can declare
// them, build them and read their fields.
type (
	// AccountKey is a wallet: the Ed25519 key of a control-plane account (see LoadWallet,
	// NewWallet).
	AccountKey = crypto.AccountKey
	// Address is an account address, "0x" + 64 hex digits (see ParseAddress).
	Address = crypto.Address
	// ObjectID identifies a blob object or storage resource, "0x" + 64 hex digits (see
	// ParseObjectID).
	ObjectID = controlplane.ObjectID
	// Blob is a blob object as the control plane records it.
	Blob = controlplane.Blob
	// Storage is a storage resource (an encoded size reserved for a range of epochs).
	Storage = controlplane.Storage
	// Committee is the committee of storage nodes of an epoch, with its shard assignment.
	Committee = controlplane.Committee
)

// ParseAddress parses an account address ("0x" + 64 hex digits).
func ParseAddress(s string) (Address, error) {
	a, err := crypto.ParseAddress(s)
	if err != nil {
		return Address{}, fmt.Errorf("client: %w", err)
	}
	return a, nil
}

// ParseObjectID parses an object ID ("0x" + 64 hex digits).
func ParseObjectID(s string) (ObjectID, error) {
	id, err := protocol.ParseObjectID(s)
	if err != nil {
		return ObjectID{}, fmt.Errorf("client: %w", err)
	}
	return id, nil
}

// NewWallet returns a new random wallet (save it with SaveWallet before funding it).
func NewWallet() (*AccountKey, error) {
	k, err := crypto.GenerateAccountKey(nil)
	if err != nil {
		return nil, fmt.Errorf("client: new wallet: %w", err)
	}
	return k, nil
}
