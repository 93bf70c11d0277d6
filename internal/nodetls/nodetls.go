// Package nodetls gives a storage node its TLS identity and its clients a way to trust it:
// a node serves a self-signed certificate for its P-256 network key, and a client accepts a
// node whose end-entity certificate carries exactly the network public key registered on the
// control plane, falling back to ordinary WebPKI validation otherwise (spec §5.1).
//
// Network public keys are exchanged in SEC1 compressed form (33 bytes), as Walrus stores
// them; the uncompressed form (65 bytes) is accepted too.
package nodetls

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"time"
)

// Errors of the package.
var (
	ErrInvalidKey  = errors.New("nodetls: invalid network key")
	ErrKeyMismatch = errors.New("nodetls: certificate key is not the registered network key")
)

// GenerateKey returns a new P-256 network key.
func GenerateKey(r io.Reader) (*ecdsa.PrivateKey, error) {
	if r == nil {
		r = rand.Reader
	}
	return ecdsa.GenerateKey(elliptic.P256(), r)
}

// PublicKeyBytes returns the SEC1 compressed form (33 bytes) of a P-256 public key.
func PublicKeyBytes(pk *ecdsa.PublicKey) ([]byte, error) {
	e, err := pk.ECDH()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	if e.Curve() != ecdh.P256() {
		return nil, fmt.Errorf("%w: not a P-256 key", ErrInvalidKey)
	}
	u := e.Bytes() // 0x04 || X || Y
	out := make([]byte, 33)
	out[0] = 2 | (u[64] & 1)
	copy(out[1:], u[1:33])
	return out, nil
}

// MarshalPrivateKey returns the PEM ("PRIVATE KEY", PKCS #8) form of a network key.
func MarshalPrivateKey(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("nodetls: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParsePrivateKey parses the PEM form written by MarshalPrivateKey.
func ParsePrivateKey(pemBytes []byte) (*ecdsa.PrivateKey, error) {
	b, _ := pem.Decode(pemBytes)
	if b == nil || b.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%w: no PRIVATE KEY PEM block", ErrInvalidKey)
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: not a P-256 ECDSA key", ErrInvalidKey)
	}
	return ek, nil
}

// SelfSigned returns a self-signed certificate for key, valid for the given host names and IP
// addresses (IPs are recognised) for ten years from now.
func SelfSigned(key *ecdsa.PrivateKey, hosts []string) (tls.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("nodetls: serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "floe storage node"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("nodetls: certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("nodetls: certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// ServerConfig returns the TLS configuration of a node serving cert (TLS 1.2+, HTTP/2 and
// HTTP/1.1).
func ServerConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2", "http/1.1"},
	}
}

// ClientConfig returns a client TLS configuration for one node: it accepts the connection if
// the server's end-entity certificate holds registeredKey (the node's network public key on
// the control plane, compressed or uncompressed SEC1), otherwise it validates the chain
// against roots (the system pool if nil) for serverName as usual. Use one configuration (and
// one http.Transport) per node. NextProtos is left to the http.Transport (set
// ForceAttemptHTTP2 for HTTP/2).
func ClientConfig(registeredKey []byte, serverName string, roots *x509.CertPool) (*tls.Config, error) {
	want, err := normalizeKey(registeredKey)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // replaced by VerifyConnection below
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return fmt.Errorf("%w: no certificate", ErrKeyMismatch)
			}
			leaf := cs.PeerCertificates[0]
			if pk, ok := leaf.PublicKey.(*ecdsa.PublicKey); ok {
				if got, err := PublicKeyBytes(pk); err == nil && bytes.Equal(got, want) {
					return nil
				}
			}
			opts := x509.VerifyOptions{DNSName: serverName, Roots: roots, Intermediates: x509.NewCertPool()}
			for _, c := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(c)
			}
			if _, err := leaf.Verify(opts); err != nil {
				return fmt.Errorf("%w, and WebPKI validation failed: %w", ErrKeyMismatch, err)
			}
			return nil
		},
	}, nil
}

// normalizeKey returns the compressed form of a SEC1 P-256 public key.
func normalizeKey(k []byte) ([]byte, error) {
	switch {
	case len(k) == 33 && (k[0] == 2 || k[0] == 3):
		return append([]byte(nil), k...), nil
	case len(k) == 65 && k[0] == 4:
		pk, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), k)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidKey, err)
		}
		return PublicKeyBytes(pk)
	default:
		return nil, fmt.Errorf("%w: %d bytes is not a SEC1 P-256 key", ErrInvalidKey, len(k))
	}
}
