package daemon

import (
	"net/url"
	"strconv"
	"strings"

	api "github.com/floelabs/floe/api/daemon"
)

// query is a query string parsed strictly (parseQuery).
type query map[string]string

// parseQuery parses a raw query string as application/x-www-form-urlencoded, strictly, as
// serde_urlencoded does for Walrus's query structs: pairs are separated by "&" only (";" is an
// ordinary character, so "epochs=50;" has the value "50;"), empty pairs are skipped, a pair
// without "=" has an empty value, "+" is a space. An invalid percent-escape, a key that is not
// one of known, or a key given twice is a 400.
func parseQuery(raw string, known ...string) (query, error) {
	q := query{}
	for pair := range strings.SplitSeq(raw, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return nil, badRequest(api.ReasonMalformedRequest, "query pair %q: %v", pair, err)
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			return nil, badRequest(api.ReasonMalformedRequest, "query pair %q: %v", pair, err)
		}
		found := false
		for _, kn := range known {
			found = found || kn == key
		}
		if !found {
			return nil, badRequest(api.ReasonMalformedRequest, "unknown query parameter %q", key)
		}
		if _, dup := q[key]; dup {
			return nil, badRequest(api.ReasonMalformedRequest, "query parameter %q given twice", key)
		}
		q[key] = val
	}
	return q, nil
}

// bool returns a boolean parameter (false if absent); its value must be exactly "true" or
// "false", as serde's.
func (q query) bool(key string) (bool, error) {
	v, ok := q[key]
	if !ok {
		return false, nil
	}
	switch v {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, badRequest(api.ReasonMalformedRequest, "query parameter %s: %q is not a boolean", key, v)
}

// uint returns an unsigned integer parameter of the given bit size and whether it was given;
// reason is the error reason of a bad value.
func (q query) uint(key string, bits int, reason string) (uint64, bool, error) {
	v, ok := q[key]
	if !ok {
		return 0, false, nil
	}
	n, err := strconv.ParseUint(v, 10, bits)
	if err != nil {
		return 0, true, badRequest(reason, "query parameter %s: %q is not an unsigned %d-bit integer", key, v, bits)
	}
	return n, true, nil
}

// parseReadQuery parses the query of a whole-blob read: Walrus's consistency-check flags,
// mutually exclusive.
func parseReadQuery(raw string) (ReadParams, error) {
	q, err := parseQuery(raw, "strict_consistency_check", "skip_consistency_check")
	if err != nil {
		return ReadParams{}, err
	}
	return q.readParams()
}

// readParams returns the consistency-check flags of q (absent: false).
func (q query) readParams() (ReadParams, error) {
	var p ReadParams
	var err error
	if p.Strict, err = q.bool("strict_consistency_check"); err != nil {
		return ReadParams{}, err
	}
	if p.Skip, err = q.bool("skip_consistency_check"); err != nil {
		return ReadParams{}, err
	}
	return p, p.check()
}

// check refuses both checks at once.
func (p ReadParams) check() error {
	if p.Strict && p.Skip {
		return badRequest(api.ReasonMalformedRequest, "strict_consistency_check and skip_consistency_check are mutually exclusive")
	}
	return nil
}
