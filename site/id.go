package site

import (
	"fmt"
	"math/big"

	"github.com/floelabs/floe/client"
)

// maxLabelLen is the longest base36 form of a 32-byte object ID (36^50 > 2^256), which fits a
// DNS label (63 bytes).
const maxLabelLen = 50

// Label returns the host label of a site: the object ID as a base-36 number, lower-case
// digits 0-9a-z without leading zeros, as Walrus's portal names sites by object ID.
func Label(id client.ObjectID) string {
	var n big.Int
	n.SetBytes(id[:])
	return n.Text(36)
}

// ObjectIDFromLabel parses a site's host label (see Label). It accepts only the canonical
// form: lower-case, no leading zeros, at most 2^256-1.
func ObjectIDFromLabel(label string) (client.ObjectID, error) {
	var id client.ObjectID
	if label == "" || len(label) > maxLabelLen {
		return id, fmt.Errorf("%w: %q is not a base36 object ID", ErrInvalidSiteID, label)
	}
	for i := 0; i < len(label); i++ {
		c := label[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z') {
			return id, fmt.Errorf("%w: %q is not a base36 object ID", ErrInvalidSiteID, label)
		}
	}
	var n big.Int
	if _, ok := n.SetString(label, 36); !ok || n.BitLen() > 8*len(id) || n.Text(36) != label {
		return id, fmt.Errorf("%w: %q is not a canonical base36 object ID", ErrInvalidSiteID, label)
	}
	n.FillBytes(id[:])
	return id, nil
}
