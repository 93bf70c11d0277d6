package crypto

import (
	"bytes"
	"errors"
	"testing"

	blst "github.com/supranational/blst/bindings/go"
)

func testBLSKey(t testing.TB, b byte) *BLSSecretKey {
	t.Helper()
	k, err := BLSKeyFromSeed(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestBLSSignVerify(t *testing.T) {
	k := testBLSKey(t, 1)
	msg := []byte("hello floe")
	sig := k.Sign(msg)
	if err := VerifyBLS(k.PublicKey(), msg, sig); err != nil {
		t.Fatalf("verify: %v", err)
	}
	if err := VerifyBLS(k.PublicKey(), []byte("hello flow"), sig); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("wrong message: got %v, want ErrBadSignature", err)
	}
	other := testBLSKey(t, 2)
	if err := VerifyBLS(other.PublicKey(), msg, sig); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("wrong key: got %v", err)
	}
	// Round trip of the secret key.
	k2, err := ParseBLSSecretKey(k.Bytes())
	if err != nil || k2.PublicKey() != k.PublicKey() {
		t.Fatalf("secret key round trip: %v", err)
	}
	// Signature made under a different DST must not verify.
	var foreign BLSSignature
	copy(foreign[:], new(blst.P2Affine).Sign(k.sk, msg, []byte("BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_")).Compress())
	if err := VerifyBLS(k.PublicKey(), msg, foreign); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("foreign DST: got %v", err)
	}
}

func TestBLSDeterministicSeed(t *testing.T) {
	a, b := testBLSKey(t, 7), testBLSKey(t, 7)
	if a.PublicKey() != b.PublicKey() {
		t.Fatal("same seed gave different keys")
	}
	if _, err := BLSKeyFromSeed(make([]byte, 31)); !errors.Is(err, ErrInvalidSecretKey) {
		t.Fatalf("short seed: %v", err)
	}
}

func TestBLSAggregate(t *testing.T) {
	msg := []byte("certify blob")
	var pks []BLSPublicKey
	var sigs []BLSSignature
	for i := byte(1); i <= 5; i++ {
		k := testBLSKey(t, i)
		pks = append(pks, k.PublicKey())
		sigs = append(sigs, k.Sign(msg))
	}
	agg, err := AggregateSignatures(sigs)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyAggregate(pks, msg, agg); err != nil {
		t.Fatalf("aggregate verify: %v", err)
	}
	apk, err := AggregatePublicKeys(pks)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyBLS(apk, msg, agg); err != nil {
		t.Fatalf("verify against aggregate key: %v", err)
	}
	// Missing one signer.
	if err := VerifyAggregate(pks[:4], msg, agg); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("subset of keys: %v", err)
	}
	partial, _ := AggregateSignatures(sigs[:4])
	if err := VerifyAggregate(pks, msg, partial); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("subset of signatures: %v", err)
	}
	if _, err := AggregateSignatures(nil); !errors.Is(err, ErrEmptyAggregate) {
		t.Fatalf("empty: %v", err)
	}
	if _, err := AggregatePublicKeys(nil); !errors.Is(err, ErrEmptyAggregate) {
		t.Fatalf("empty: %v", err)
	}
}

// offSubgroupG1 finds a compressed G1 point that is on the curve but not in the prime-order
// subgroup (almost every curve point is, since the cofactor is large).
func offSubgroupG1(t *testing.T) BLSPublicKey {
	t.Helper()
	for x := byte(1); x < 255; x++ {
		var pk BLSPublicKey
		pk[0] = 0x80 // compressed flag
		pk[47] = x
		p := new(blst.P1Affine).Uncompress(pk[:])
		if p != nil && !p.InG1() {
			return pk
		}
	}
	t.Fatal("no off-subgroup point found")
	return BLSPublicKey{}
}

func offSubgroupG2(t *testing.T) BLSSignature {
	t.Helper()
	for x := byte(1); x < 255; x++ {
		var s BLSSignature
		s[0] = 0x80
		s[95] = x
		p := new(blst.P2Affine).Uncompress(s[:])
		if p != nil && !p.InG2() {
			return s
		}
	}
	t.Fatal("no off-subgroup point found")
	return BLSSignature{}
}

func TestBLSRejectsForgedPoints(t *testing.T) {
	k := testBLSKey(t, 3)
	msg := []byte("m")
	sig := k.Sign(msg)

	identity := BLSPublicKey{0xc0} // compressed point at infinity
	garbage := BLSPublicKey{}      // no compression flag
	var notOnCurve BLSPublicKey
	notOnCurve[0] = 0x80
	for x := byte(1); ; x++ {
		notOnCurve[47] = x
		if new(blst.P1Affine).Uncompress(notOnCurve[:]) == nil {
			break
		}
	}
	offSub := offSubgroupG1(t)
	for name, pk := range map[string]BLSPublicKey{"identity": identity, "garbage": garbage, "not on curve": notOnCurve, "off subgroup": offSub} {
		if err := pk.Validate(); !errors.Is(err, ErrInvalidPublicKey) {
			t.Errorf("%s: Validate = %v", name, err)
		}
		if err := VerifyBLS(pk, msg, sig); !errors.Is(err, ErrInvalidPublicKey) {
			t.Errorf("%s: VerifyBLS = %v", name, err)
		}
		if _, err := AggregatePublicKeys([]BLSPublicKey{k.PublicKey(), pk}); !errors.Is(err, ErrInvalidPublicKey) {
			t.Errorf("%s: AggregatePublicKeys = %v", name, err)
		}
	}
	// The identity signature with the identity key is the classic forgery: rejected.
	idSig := BLSSignature{0xc0}
	if err := VerifyBLS(identity, msg, idSig); err == nil {
		t.Error("identity key and signature accepted")
	}
	badSig := offSubgroupG2(t)
	if err := VerifyBLS(k.PublicKey(), msg, badSig); !errors.Is(err, ErrInvalidSignature) {
		t.Errorf("off-subgroup signature: %v", err)
	}
	if _, err := AggregateSignatures([]BLSSignature{sig, badSig}); !errors.Is(err, ErrInvalidSignature) {
		t.Errorf("aggregate with off-subgroup signature: %v", err)
	}
	if err := VerifyBLS(k.PublicKey(), msg, BLSSignature{}); !errors.Is(err, ErrInvalidSignature) {
		t.Errorf("zero signature: %v", err)
	}
}

func TestBLSTextRoundTrip(t *testing.T) {
	k := testBLSKey(t, 9)
	pk := k.PublicKey()
	txt, _ := pk.MarshalText()
	var back BLSPublicKey
	if err := back.UnmarshalText(txt); err != nil || back != pk {
		t.Fatalf("round trip: %v", err)
	}
	if err := back.UnmarshalText([]byte("AAAA")); err == nil {
		t.Fatal("short key accepted")
	}
	sig := k.Sign([]byte("x"))
	st, _ := sig.MarshalText()
	var sb BLSSignature
	if err := sb.UnmarshalText(st); err != nil || sb != sig {
		t.Fatalf("sig round trip: %v", err)
	}
}

func TestAccountKeys(t *testing.T) {
	k, err := AccountKeyFromSeed(bytes.Repeat([]byte{4}, 32))
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("tx")
	sig := k.Sign(msg)
	if !k.PublicKey().Verify(msg, sig) {
		t.Fatal("signature does not verify")
	}
	sig[0] ^= 1
	if k.PublicKey().Verify(msg, sig) {
		t.Fatal("tampered signature verifies")
	}
	k2, _ := AccountKeyFromSeed(k.Seed())
	if k2.Address() != k.Address() {
		t.Fatal("seed round trip changed the address")
	}
	a := k.Address()
	parsed, err := ParseAddress(a.String())
	if err != nil || parsed != a {
		t.Fatalf("address round trip: %v", err)
	}
	if _, err := ParseAddress("0x1234"); !errors.Is(err, ErrInvalidAddress) {
		t.Fatalf("short address: %v", err)
	}
	if _, err := AccountKeyFromSeed([]byte{1}); !errors.Is(err, ErrInvalidAccountKey) {
		t.Fatalf("short seed: %v", err)
	}
	// The address is Blake2b-256(0x00 || pk): flipping the key changes it.
	other, _ := GenerateAccountKey(nil)
	if other.Address() == a {
		t.Fatal("two keys share an address")
	}
}
