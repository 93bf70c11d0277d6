package daemon

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"

	fcrypto "github.com/floelabs/floe/internal/crypto"
)

// The publisher's JWT authentication, as Walrus's (client/daemon/auth.rs, client/config.rs):
//
//   - the key is --jwt-decode-secret, its bytes as given or, with a 0x prefix, hex; for HS256,
//     HS384 and HS512 an HMAC secret, for EdDSA the 32-byte Ed25519 public key, for ES256 and
//     ES384 the uncompressed curve point, for RS* and PS* the PKCS#1 DER public key (a
//     PKIX/SPKI DER key is accepted for all of them);
//   - without a key but with --jwt-expiring-sec or --jwt-verify-upload, tokens are decoded
//     without checking their signature (a gateway in front checked them);
//   - the token's header must name the configured algorithm (default HS256); exp is required
//     (expired after exp plus 60 s of leeway, jsonwebtoken's), jti is required and is consumed
//     by the first request that presents it until its exp (a replay gets 429), iat too when
//     --jwt-expiring-sec is set, which then must equal exp - iat;
//   - size/max_size and epochs/max_epochs exclude each other; with --jwt-verify-upload the
//     request must match epochs or max_epochs, size or max_size, and send_object_to; the body's
//     size is checked against size/max_size whenever a token is given;
//   - errors use Walrus's reasons in the domain auth.publisher.walrus.space, with its statuses:
//     400 for a missing or malformed token and for claims the request does not match, 401 for a
//     bad signature, 504 for an expired token, 429 for a replayed one.

// JWTDomain is the error domain of authentication errors.
const JWTDomain = "auth.publisher.walrus.space"

// Walrus's authentication error reasons.
const (
	ReasonInvalidExpiration   = "INVALID_EXPIRATION"
	ReasonInvalidEpochs       = "INVALID_EPOCHS"
	ReasonInvalidSize         = "INVALID_SIZE"
	ReasonInvalidSendObjectTo = "INVALID_SEND_OBJECT_TO"
	ReasonInconsistentToken   = "INCONSISTENT_TOKEN"
	ReasonExpiredSignature    = "EXPIRED_SIGNATURE"
	ReasonInvalidSignature    = "INVALID_SIGNATURE"
	ReasonInvalidToken        = "INVALID_TOKEN"
	ReasonTokenAlreadyUsed    = "TOKEN_ALREADY_USED"
	ReasonInvalidTimestamp    = "INVALID_TIMESTAMP"
)

// jwtLeeway is jsonwebtoken's default leeway on exp.
const jwtLeeway = 60

// DefaultJWTCacheSize bounds the replay cache (Walrus's --jwt-cache-size).
const DefaultJWTCacheSize = 10_000

// JWTAlgorithms are the algorithms a JWTConfig may name.
var JWTAlgorithms = []string{"HS256", "HS384", "HS512", "ES256", "ES384", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"}

// JWTConfig enables JWT authentication of the publisher.
type JWTConfig struct {
	// Algorithm is the tokens' algorithm (default HS256).
	Algorithm string
	// Key verifies signatures: an HMAC secret, or an ed25519.PublicKey, *ecdsa.PublicKey or
	// *rsa.PublicKey for the algorithm (see ParseJWTKey). Nil decodes tokens without checking
	// their signature, as Walrus does when no secret is given.
	Key any
	// Secret is an HS256 secret, for callers that set no Key.
	Secret []byte
	// ExpiringSec, if positive, requires iat and exp - iat == ExpiringSec.
	ExpiringSec int64
	// VerifyUpload makes the request match the token's claims (epochs or max_epochs, size or
	// max_size, send_object_to), as Walrus's --jwt-verify-upload.
	VerifyUpload bool
	// CacheSize bounds the jti replay cache (default 10 000); when it is full of live tokens,
	// new ones are refused until old ones expire.
	CacheSize int
}

// ParseJWTKey decodes --jwt-decode-secret for an algorithm: "0x"-prefixed hex or the string's
// bytes, then an HMAC secret or a public key (see the package's JWT notes).
func ParseJWTKey(alg, secret string) (any, error) {
	b := []byte(secret)
	if strings.HasPrefix(secret, "0x") {
		if len(secret)%2 != 0 {
			return nil, fmt.Errorf("daemon: JWT secret: odd number of hex digits")
		}
		var err error
		if b, err = hex.DecodeString(secret[2:]); err != nil {
			return nil, fmt.Errorf("daemon: JWT secret: %w", err)
		}
	}
	if alg == "" {
		alg = "HS256"
	}
	pkix := func() any {
		k, err := x509.ParsePKIXPublicKey(b)
		if err != nil {
			return nil
		}
		return k
	}
	switch alg {
	case "HS256", "HS384", "HS512":
		if len(b) == 0 {
			return nil, errors.New("daemon: empty JWT secret")
		}
		return b, nil
	case "EdDSA":
		if len(b) == ed25519.PublicKeySize {
			return ed25519.PublicKey(b), nil
		}
		if k, ok := pkix().(ed25519.PublicKey); ok {
			return k, nil
		}
		return nil, fmt.Errorf("daemon: JWT key for EdDSA: want a 32-byte Ed25519 public key or its PKIX DER")
	case "ES256", "ES384":
		curve := elliptic.P256()
		if alg == "ES384" {
			curve = elliptic.P384()
		}
		if k, ok := pkix().(*ecdsa.PublicKey); ok && k.Curve == curve {
			return k, nil
		}
		k, err := ecdsa.ParseUncompressedPublicKey(curve, b)
		if err != nil {
			return nil, fmt.Errorf("daemon: JWT key for %s: want an uncompressed %s point or its PKIX DER: %w", alg, curve.Params().Name, err)
		}
		return k, nil
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		if k, ok := pkix().(*rsa.PublicKey); ok {
			return k, nil
		}
		k, err := x509.ParsePKCS1PublicKey(b)
		if err != nil {
			return nil, fmt.Errorf("daemon: JWT key for %s: want a PKCS#1 or PKIX DER RSA public key: %w", alg, err)
		}
		return k, nil
	}
	return nil, fmt.Errorf("daemon: JWT algorithm %q (supported: %s)", alg, strings.Join(JWTAlgorithms, ", "))
}

// jwtError is an authentication error with Walrus's status and reason.
type jwtError struct {
	code   int
	reason string
	msg    string
}

func (e *jwtError) Error() string { return e.msg }

func authErr(code int, reason, format string, args ...any) error {
	return &jwtError{code: code, reason: reason, msg: fmt.Sprintf(format, args...)}
}

// jwtClaims are Walrus's publisher claims (auth.rs).
type jwtClaims struct {
	Exp          *int64  `json:"exp"`
	Iat          *int64  `json:"iat"`
	JTI          *string `json:"jti"`
	SendObjectTo *string `json:"send_object_to"`
	Epochs       *uint32 `json:"epochs"`
	MaxEpochs    *uint32 `json:"max_epochs"`
	Size         *uint64 `json:"size"`
	MaxSize      *uint64 `json:"max_size"`
}

// jwtVerifier checks tokens and suppresses replays of a jti until its expiry.
type jwtVerifier struct {
	cfg JWTConfig
	now func() time.Time
	mu  sync.Mutex
	// seen maps a consumed jti to its exp (unix seconds).
	seen map[string]int64
}

func newJWTVerifier(cfg JWTConfig, now func() time.Time) *jwtVerifier {
	if cfg.Algorithm == "" {
		cfg.Algorithm = "HS256"
	}
	if cfg.Key == nil && len(cfg.Secret) > 0 {
		cfg.Key = cfg.Secret
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = DefaultJWTCacheSize
	}
	return &jwtVerifier{cfg: cfg, now: now, seen: map[string]int64{}}
}

func validateJWT(c *JWTConfig) error {
	alg := c.Algorithm
	if alg == "" {
		alg = "HS256"
	}
	known := false
	for _, a := range JWTAlgorithms {
		known = known || a == alg
	}
	if !known {
		return fmt.Errorf("daemon: JWT algorithm %q (supported: %s)", alg, strings.Join(JWTAlgorithms, ", "))
	}
	key := c.Key
	if key == nil && len(c.Secret) > 0 {
		key = c.Secret
	}
	if key == nil && c.ExpiringSec <= 0 && !c.VerifyUpload {
		return errors.New("daemon: JWT authentication with no key, no expiring time and no upload verification checks nothing")
	}
	if c.ExpiringSec < 0 {
		return errors.New("daemon: negative JWT expiring time")
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

// verify checks the Authorization header's token and returns its claims.
func (v *jwtVerifier) verify(header string) (*jwtClaims, error) {
	tok, ok := strings.CutPrefix(header, "Bearer ")
	if !ok {
		return nil, authErr(http.StatusBadRequest, ReasonInvalidToken, "the request has no Authorization: Bearer token")
	}
	parts := strings.Split(strings.TrimSpace(tok), ".")
	if len(parts) != 3 {
		return nil, authErr(http.StatusBadRequest, ReasonInvalidToken, "malformed token")
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	if err := decodeSegment(parts[0], &hdr); err != nil {
		return nil, authErr(http.StatusBadRequest, ReasonInvalidToken, "token header: %v", err)
	}
	if v.cfg.Key != nil {
		if hdr.Alg != v.cfg.Algorithm {
			return nil, authErr(http.StatusBadRequest, ReasonInvalidToken, "token algorithm %q, the publisher takes %s", hdr.Alg, v.cfg.Algorithm)
		}
		sig, err := base64.RawURLEncoding.DecodeString(parts[2])
		if err != nil {
			return nil, authErr(http.StatusBadRequest, ReasonInvalidToken, "token signature: %v", err)
		}
		if !verifySignature(v.cfg.Algorithm, v.cfg.Key, []byte(parts[0]+"."+parts[1]), sig) {
			return nil, authErr(http.StatusUnauthorized, ReasonInvalidSignature, "the signature on the token is invalid")
		}
	}
	var c jwtClaims
	if err := decodeSegment(parts[1], &c); err != nil {
		return nil, authErr(http.StatusBadRequest, ReasonInvalidToken, "token claims: %v", err)
	}
	switch {
	case c.Exp == nil:
		return nil, authErr(http.StatusBadRequest, ReasonInvalidToken, "the token has no exp claim")
	case c.JTI == nil:
		return nil, authErr(http.StatusBadRequest, ReasonInvalidToken, "the token has no jti claim")
	case v.cfg.ExpiringSec > 0 && c.Iat == nil:
		return nil, authErr(http.StatusBadRequest, ReasonInvalidToken, "the token has no iat claim")
	}
	if v.cfg.Key != nil && *c.Exp < v.now().Unix()-jwtLeeway {
		return nil, authErr(http.StatusGatewayTimeout, ReasonExpiredSignature, "the signature on the token has expired")
	}
	return &c, nil
}

func verifySignature(alg string, key any, msg, sig []byte) bool {
	var h func() hash.Hash
	var ch crypto.Hash
	switch alg[2:] {
	case "256":
		h, ch = sha256.New, crypto.SHA256
	case "384":
		h, ch = sha512.New384, crypto.SHA384
	case "512":
		h, ch = sha512.New, crypto.SHA512
	}
	digest := func() []byte {
		d := h()
		d.Write(msg)
		return d.Sum(nil)
	}
	switch k := key.(type) {
	case []byte:
		if alg[:2] != "HS" {
			return false
		}
		mac := hmac.New(h, k)
		mac.Write(msg)
		return hmac.Equal(sig, mac.Sum(nil))
	case ed25519.PublicKey:
		return alg == "EdDSA" && ed25519.Verify(k, msg, sig)
	case *ecdsa.PublicKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		if alg[:2] != "ES" || len(sig) != 2*size {
			return false
		}
		r, s := new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])
		return ecdsa.Verify(k, digest(), r, s)
	case *rsa.PublicKey:
		switch alg[:2] {
		case "RS":
			return rsa.VerifyPKCS1v15(k, ch, digest(), sig) == nil
		case "PS":
			return rsa.VerifyPSS(k, ch, digest(), sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}) == nil
		}
	}
	return false
}

// consume records the token's jti until its exp, refusing one seen before (429) and, when the
// cache is full of live tokens, any new one (500, as Walrus's).
func (v *jwtVerifier) consume(c *jwtClaims) error {
	now := v.now().Unix()
	v.mu.Lock()
	defer v.mu.Unlock()
	if exp, ok := v.seen[*c.JTI]; ok && exp >= now-jwtLeeway {
		return authErr(http.StatusTooManyRequests, ReasonTokenAlreadyUsed, "the JWT token was already used")
	}
	if len(v.seen) >= v.cfg.CacheSize {
		for j, exp := range v.seen {
			if exp < now-jwtLeeway {
				delete(v.seen, j)
			}
		}
		if len(v.seen) >= v.cfg.CacheSize {
			return authErr(http.StatusInternalServerError, api500Reason, "the token cache is full; try again when tokens expire")
		}
	}
	v.seen[*c.JTI] = *c.Exp
	return nil
}

// api500Reason is the reason of an internal error.
const api500Reason = "INTERNAL_ERROR"

// release forgets a token whose request was refused after it was recorded.
func (v *jwtVerifier) release(c *jwtClaims) {
	v.mu.Lock()
	delete(v.seen, *c.JTI)
	v.mu.Unlock()
}

// checkClaims checks the claims against the request before its body is read (Walrus's
// check_valid_upload, the size from Content-Length when given).
func (v *jwtVerifier) checkClaims(c *jwtClaims, q storeQuery, contentLength int64) error {
	if v.cfg.ExpiringSec > 0 && *c.Exp-*c.Iat != v.cfg.ExpiringSec {
		return authErr(http.StatusBadRequest, ReasonInvalidExpiration, "exp - iat is %d s, the publisher requires %d", *c.Exp-*c.Iat, v.cfg.ExpiringSec)
	}
	if c.Size != nil && c.MaxSize != nil {
		return authErr(http.StatusBadRequest, ReasonInconsistentToken, "the token has both size and max_size")
	}
	if !v.cfg.VerifyUpload {
		return nil
	}
	if contentLength >= 0 {
		if err := c.checkSize(uint64(contentLength)); err != nil {
			return err
		}
	}
	switch {
	case c.Epochs != nil && c.MaxEpochs != nil:
		return authErr(http.StatusBadRequest, ReasonInconsistentToken, "the token has both epochs and max_epochs")
	case c.Epochs != nil && q.Epochs != *c.Epochs:
		return authErr(http.StatusBadRequest, ReasonInvalidEpochs, "epochs=%d, the token allows exactly %d", q.Epochs, *c.Epochs)
	case c.MaxEpochs != nil && q.Epochs > *c.MaxEpochs:
		return authErr(http.StatusBadRequest, ReasonInvalidEpochs, "epochs=%d, the token allows at most %d", q.Epochs, *c.MaxEpochs)
	}
	if c.SendObjectTo != nil {
		want, err := fcrypto.ParseAddress(*c.SendObjectTo)
		if err != nil {
			return authErr(http.StatusBadRequest, ReasonInvalidToken, "token send_object_to: %v", err)
		}
		if q.SendObjectTo == nil || *q.SendObjectTo != want {
			return authErr(http.StatusBadRequest, ReasonInvalidSendObjectTo, "the send_object_to field in the query does not match the token, or is missing")
		}
	}
	return nil
}

// checkSize checks a body size against size and max_size (Walrus checks the received body
// whenever a token is given).
func (c *jwtClaims) checkSize(n uint64) error {
	if c.MaxSize != nil && n > *c.MaxSize {
		return authErr(http.StatusBadRequest, ReasonInvalidSize, "%d bytes, the token allows at most %d", n, *c.MaxSize)
	}
	if c.Size != nil && n != *c.Size {
		return authErr(http.StatusBadRequest, ReasonInvalidSize, "%d bytes, the token allows exactly %d", n, *c.Size)
	}
	return nil
}

// SignJWT returns an HS256 token over claims (for tests and for operators who mint tokens).
func SignJWT(secret []byte, claims any) (string, error) {
	return SignJWTWith("HS256", secret, claims)
}

// SignJWTWith returns a token over claims signed with key: an HMAC secret ([]byte) for HS*,
// an ed25519.PrivateKey for EdDSA, an *ecdsa.PrivateKey for ES*, an *rsa.PrivateKey for RS*
// and PS*.
func SignJWTWith(alg string, key any, claims any) (string, error) {
	body, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	head, _ := json.Marshal(map[string]string{"alg": alg, "typ": "JWT"})
	msg := base64.RawURLEncoding.EncodeToString(head) + "." + base64.RawURLEncoding.EncodeToString(body)
	var sig []byte
	hashOf := func(ch crypto.Hash) []byte {
		d := ch.New()
		d.Write([]byte(msg))
		return d.Sum(nil)
	}
	ch := map[string]crypto.Hash{"256": crypto.SHA256, "384": crypto.SHA384, "512": crypto.SHA512}[alg[len(alg)-3:]]
	switch k := key.(type) {
	case []byte:
		mac := hmac.New(ch.New, k)
		mac.Write([]byte(msg))
		sig = mac.Sum(nil)
	case ed25519.PrivateKey:
		sig = ed25519.Sign(k, []byte(msg))
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, k, hashOf(ch))
		if err != nil {
			return "", err
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		sig = append(r.FillBytes(make([]byte, size)), s.FillBytes(make([]byte, size))...)
	case *rsa.PrivateKey:
		if alg[:2] == "PS" {
			sig, err = rsa.SignPSS(rand.Reader, k, ch, hashOf(ch), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			sig, err = rsa.SignPKCS1v15(rand.Reader, k, ch, hashOf(ch))
		}
		if err != nil {
			return "", err
		}
	default:
		return "", fmt.Errorf("daemon: signing key %T", key)
	}
	return msg + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}
