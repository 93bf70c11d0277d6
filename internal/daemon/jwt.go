package daemon

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/floelabs/floe/internal/crypto"
)

// errUnauthenticated is a missing, invalid, expired or replayed token → 401.
var errUnauthenticated = errors.New("unauthenticated")

// maxJTIs bounds the replay cache; when full, new tokens with a jti are refused until old ones
// expire, so that a flood cannot make the daemon forget a token that is still valid.
const maxJTIs = 1 << 20

// jwtClaims are Walrus's publisher claims (auth.rs).
type jwtClaims struct {
	Exp          *int64  `json:"exp"`
	Iat          *int64  `json:"iat"`
	JTI          string  `json:"jti"`
	SendObjectTo *string `json:"send_object_to"`
	Epochs       *uint32 `json:"epochs"`
	MaxEpochs    *uint32 `json:"max_epochs"`
	Size         *uint64 `json:"size"`
	MaxSize      *uint64 `json:"max_size"`
}

// jwtVerifier checks HS256 tokens and suppresses replays of a jti until its expiry.
type jwtVerifier struct {
	secret []byte
	now    func() time.Time
	mu     sync.Mutex
	seen   map[string]int64 // jti → exp (unix seconds)
}

func newJWTVerifier(secret []byte, now func() time.Time) *jwtVerifier {
	return &jwtVerifier{secret: secret, now: now, seen: map[string]int64{}}
}

func unauthenticated(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUnauthenticated, fmt.Sprintf(format, args...))
}

// verify checks the Authorization header's bearer token and returns its claims.
func (v *jwtVerifier) verify(header string) (*jwtClaims, error) {
	tok, ok := strings.CutPrefix(header, "Bearer ")
	if !ok {
		return nil, unauthenticated("missing bearer token")
	}
	parts := strings.Split(strings.TrimSpace(tok), ".")
	if len(parts) != 3 {
		return nil, unauthenticated("malformed token")
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	if err := decodeSegment(parts[0], &hdr); err != nil {
		return nil, unauthenticated("token header: %v", err)
	}
	if hdr.Alg != "HS256" {
		return nil, unauthenticated("token algorithm %q (want HS256)", hdr.Alg)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, unauthenticated("token signature: %v", err)
	}
	mac := hmac.New(sha256.New, v.secret)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if !hmac.Equal(sig, mac.Sum(nil)) {
		return nil, unauthenticated("bad token signature")
	}
	var c jwtClaims
	if err := decodeSegment(parts[1], &c); err != nil {
		return nil, unauthenticated("token claims: %v", err)
	}
	if c.Exp == nil {
		return nil, unauthenticated("token has no exp claim")
	}
	if v.now().Unix() >= *c.Exp {
		return nil, unauthenticated("token expired")
	}
	return &c, nil
}

// consume records the token's jti, refusing one seen before.
func (v *jwtVerifier) consume(c *jwtClaims) error {
	if c.JTI == "" {
		return nil
	}
	now := v.now().Unix()
	v.mu.Lock()
	defer v.mu.Unlock()
	if exp, ok := v.seen[c.JTI]; ok && exp > now {
		return unauthenticated("token %q was used already", c.JTI)
	}
	if len(v.seen) >= maxJTIs {
		for j, exp := range v.seen {
			if exp <= now {
				delete(v.seen, j)
			}
		}
		if len(v.seen) >= maxJTIs {
			return unauthenticated("too many live tokens")
		}
	}
	v.seen[c.JTI] = *c.Exp
	return nil
}

// checkUpload matches the request with the claims (Walrus's --jwt-verify-upload).
func (c *jwtClaims) checkUpload(q storeQuery, size uint64) error {
	if c.Epochs != nil && q.Epochs != *c.Epochs {
		return unauthenticated("epochs %d, the token allows exactly %d", q.Epochs, *c.Epochs)
	}
	if c.MaxEpochs != nil && q.Epochs > *c.MaxEpochs {
		return unauthenticated("epochs %d, the token allows at most %d", q.Epochs, *c.MaxEpochs)
	}
	if c.Size != nil && size != *c.Size {
		return unauthenticated("size %d, the token allows exactly %d bytes", size, *c.Size)
	}
	if c.MaxSize != nil && size > *c.MaxSize {
		return unauthenticated("size %d, the token allows at most %d bytes", size, *c.MaxSize)
	}
	if c.SendObjectTo != nil {
		want, err := crypto.ParseAddress(*c.SendObjectTo)
		if err != nil {
			return unauthenticated("token send_object_to: %v", err)
		}
		if q.SendObjectTo == nil || *q.SendObjectTo != want {
			return unauthenticated("send_object_to does not match the token")
		}
	}
	return nil
}

func decodeSegment(s string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// SignJWT returns an HS256 token over claims (for tests and for operators who mint tokens).
func SignJWT(secret []byte, claims any) (string, error) {
	body, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	head := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	msg := head + "." + base64.RawURLEncoding.EncodeToString(body)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(msg))
	return msg + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil)), nil
}
