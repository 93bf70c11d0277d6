package crypto

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"

	blst "github.com/supranational/blst/bindings/go"
)

// DST is the BLS ciphersuite domain separation tag of the basic min-pk scheme.
const DST = "BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_NUL_"

// Sizes of BLS keys and signatures.
const (
	BLSPublicKeyLen = 48
	BLSSignatureLen = 96
	BLSSecretKeyLen = 32
)

// Errors about BLS material.
var (
	ErrInvalidPublicKey = errors.New("crypto: invalid BLS public key")
	ErrInvalidSignature = errors.New("crypto: invalid BLS signature")
	ErrInvalidSecretKey = errors.New("crypto: invalid BLS secret key")
	ErrBadSignature     = errors.New("crypto: BLS signature does not verify")
	ErrEmptyAggregate   = errors.New("crypto: nothing to aggregate")
)

var dst = []byte(DST)

// BLSPublicKey is a compressed G1 point (48 bytes).
type BLSPublicKey [BLSPublicKeyLen]byte

// BLSSignature is a compressed G2 point (96 bytes).
type BLSSignature [BLSSignatureLen]byte

// BLSSecretKey is a BLS12-381 secret scalar.
type BLSSecretKey struct {
	sk *blst.SecretKey
	pk BLSPublicKey
}

// GenerateBLSKey creates a key from 32 bytes of the given randomness (crypto/rand if nil).
func GenerateBLSKey(r io.Reader) (*BLSSecretKey, error) {
	if r == nil {
		r = rand.Reader
	}
	var ikm [32]byte
	if _, err := io.ReadFull(r, ikm[:]); err != nil {
		return nil, fmt.Errorf("crypto: reading key material: %w", err)
	}
	return BLSKeyFromSeed(ikm[:])
}

// BLSKeyFromSeed derives a key deterministically from at least 32 bytes of input key material
// (the IETF KeyGen procedure).
func BLSKeyFromSeed(ikm []byte) (*BLSSecretKey, error) {
	if len(ikm) < 32 {
		return nil, fmt.Errorf("%w: seed has %d bytes, want at least 32", ErrInvalidSecretKey, len(ikm))
	}
	sk := blst.KeyGen(ikm)
	if sk == nil {
		return nil, ErrInvalidSecretKey
	}
	return newBLSSecretKey(sk), nil
}

func newBLSSecretKey(sk *blst.SecretKey) *BLSSecretKey {
	k := &BLSSecretKey{sk: sk}
	copy(k.pk[:], new(blst.P1Affine).From(sk).Compress())
	return k
}

// ParseBLSSecretKey parses the 32-byte big-endian scalar form produced by Bytes.
func ParseBLSSecretKey(b []byte) (*BLSSecretKey, error) {
	if len(b) != BLSSecretKeyLen {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrInvalidSecretKey, len(b), BLSSecretKeyLen)
	}
	sk := new(blst.SecretKey).Deserialize(b)
	if sk == nil {
		return nil, ErrInvalidSecretKey
	}
	return newBLSSecretKey(sk), nil
}

// Bytes returns the 32-byte big-endian scalar.
func (k *BLSSecretKey) Bytes() []byte { return k.sk.Serialize() }

// PublicKey returns the compressed public key.
func (k *BLSSecretKey) PublicKey() BLSPublicKey { return k.pk }

// Sign signs msg with the basic scheme.
func (k *BLSSecretKey) Sign(msg []byte) BLSSignature {
	var s BLSSignature
	copy(s[:], new(blst.P2Affine).Sign(k.sk, msg, dst).Compress())
	return s
}

func (pk BLSPublicKey) point() (*blst.P1Affine, error) {
	p := new(blst.P1Affine).Uncompress(pk[:])
	if p == nil {
		return nil, fmt.Errorf("%w: not a compressed curve point", ErrInvalidPublicKey)
	}
	if !p.KeyValidate() { // in G1 and not the identity
		return nil, fmt.Errorf("%w: not in the prime-order subgroup or the identity", ErrInvalidPublicKey)
	}
	return p, nil
}

// Validate checks that pk is a valid, non-identity point of the G1 subgroup.
func (pk BLSPublicKey) Validate() error {
	_, err := pk.point()
	return err
}

// String returns the standard base64 form.
func (pk BLSPublicKey) String() string { return base64.StdEncoding.EncodeToString(pk[:]) }

// MarshalText implements encoding.TextMarshaler (standard base64).
func (pk BLSPublicKey) MarshalText() ([]byte, error) { return []byte(pk.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler. It does not validate the point.
func (pk *BLSPublicKey) UnmarshalText(b []byte) error {
	return decodeFixed(pk[:], b, "BLS public key")
}

func (s BLSSignature) point() (*blst.P2Affine, error) {
	p := new(blst.P2Affine).Uncompress(s[:])
	if p == nil {
		return nil, fmt.Errorf("%w: not a compressed curve point", ErrInvalidSignature)
	}
	if !p.SigValidate(false) {
		return nil, fmt.Errorf("%w: not in the prime-order subgroup", ErrInvalidSignature)
	}
	return p, nil
}

// String returns the standard base64 form.
func (s BLSSignature) String() string { return base64.StdEncoding.EncodeToString(s[:]) }

// MarshalText implements encoding.TextMarshaler (standard base64).
func (s BLSSignature) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler. It does not validate the point.
func (s *BLSSignature) UnmarshalText(b []byte) error {
	return decodeFixed(s[:], b, "BLS signature")
}

// VerifyBLS checks sig over msg under pk. It returns nil or an error wrapping
// ErrInvalidPublicKey, ErrInvalidSignature or ErrBadSignature.
func VerifyBLS(pk BLSPublicKey, msg []byte, sig BLSSignature) error {
	p, err := pk.point()
	if err != nil {
		return err
	}
	s, err := sig.point()
	if err != nil {
		return err
	}
	if !s.Verify(false, p, false, msg, dst) {
		return ErrBadSignature
	}
	return nil
}

// AggregateSignatures adds signatures (each checked to be a valid subgroup point).
func AggregateSignatures(sigs []BLSSignature) (BLSSignature, error) {
	var out BLSSignature
	if len(sigs) == 0 {
		return out, ErrEmptyAggregate
	}
	var agg blst.P2Aggregate
	for i, s := range sigs {
		p, err := s.point()
		if err != nil {
			return out, fmt.Errorf("signature %d: %w", i, err)
		}
		agg.Add(p, false)
	}
	copy(out[:], agg.ToAffine().Compress())
	return out, nil
}

// AggregatePublicKeys adds public keys (each checked to be a valid, non-identity subgroup
// point). Keys must come with a proof of possession to be safe against rogue-key attacks.
func AggregatePublicKeys(pks []BLSPublicKey) (BLSPublicKey, error) {
	var out BLSPublicKey
	if len(pks) == 0 {
		return out, ErrEmptyAggregate
	}
	var agg blst.P1Aggregate
	for i, pk := range pks {
		p, err := pk.point()
		if err != nil {
			return out, fmt.Errorf("public key %d: %w", i, err)
		}
		agg.Add(p, false)
	}
	copy(out[:], agg.ToAffine().Compress())
	return out, nil
}

// VerifyAggregate checks an aggregate signature of the same message by every key in pks
// (fast aggregate verification). The keys must carry proofs of possession.
func VerifyAggregate(pks []BLSPublicKey, msg []byte, sig BLSSignature) error {
	if len(pks) == 0 {
		return ErrEmptyAggregate
	}
	var agg blst.P1Aggregate
	for i, pk := range pks {
		p, err := pk.point()
		if err != nil {
			return fmt.Errorf("public key %d: %w", i, err)
		}
		agg.Add(p, false)
	}
	s, err := sig.point()
	if err != nil {
		return err
	}
	if !s.Verify(false, agg.ToAffine(), false, msg, dst) {
		return ErrBadSignature
	}
	return nil
}

func decodeFixed(dstBuf, text []byte, what string) error {
	b, err := base64.StdEncoding.DecodeString(string(text))
	if err != nil {
		b, err = base64.RawStdEncoding.DecodeString(string(text))
		if err != nil {
			return fmt.Errorf("crypto: %s: %w", what, err)
		}
	}
	if len(b) != len(dstBuf) {
		return fmt.Errorf("crypto: %s has %d bytes, want %d", what, len(b), len(dstBuf))
	}
	copy(dstBuf, b)
	return nil
}
