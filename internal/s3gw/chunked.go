package s3gw

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/rclone/gofakes3"
	"github.com/rclone/gofakes3/signature"
)

// The aws-chunked body encodings (x-amz-content-sha256 values).
const (
	streamingSigned        = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	streamingSignedTrailer = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	streamingUnsigned      = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
)

// maxChunk bounds one aws-chunked chunk (clients send 64 KiB to a few MiB).
const maxChunk = 64 << 20

var emptySHA256 = hex.EncodeToString(sha256.New().Sum(nil))

// decodeChunked replaces an aws-chunked body with a reader of its decoded bytes that checks
// every chunk's signature (chained from the request's seed signature) or, for unsigned
// chunks, the trailing checksum; a failed check fails the read. The library then sees a
// plain body of X-Amz-Decoded-Content-Length bytes.
func (g *Gateway) decodeChunked(r *http.Request, key *accessKey, mode string) *bodyError {
	dl, err := strconv.ParseInt(r.Header.Get("X-Amz-Decoded-Content-Length"), 10, 64)
	if err != nil || dl < 0 {
		return &bodyError{"MissingContentLength", "an aws-chunked body needs X-Amz-Decoded-Content-Length"}
	}
	d := &chunkDecoder{br: bufio.NewReaderSize(r.Body, 64<<10), body: r.Body, left: dl}
	switch mode {
	case streamingSigned, streamingSignedTrailer:
		sv, code := signature.ParseSignV4(r.Header.Get("Authorization"))
		if code != signature.ErrNone {
			return &bodyError{"AccessDenied", "an aws-chunked signed body needs an Authorization header"}
		}
		date, region, service, ok := credentialScope(r.Header.Get("Authorization"))
		if !ok {
			return &bodyError{"AuthorizationHeaderMalformed", "cannot read the credential scope"}
		}
		d.signed = true
		d.key = signingKey(key.secret, date, region, service)
		d.amzDate = r.Header.Get("X-Amz-Date")
		d.scope = date + "/" + region + "/" + service + "/aws4_request"
		d.prev = sv.Signature
		d.trailer = mode == streamingSignedTrailer
	case streamingUnsigned:
		d.trailer = true
	default:
		return &bodyError{"InvalidArgument", "unknown x-amz-content-sha256 " + mode}
	}
	if d.trailer {
		name := strings.ToLower(strings.TrimSpace(r.Header.Get("X-Amz-Trailer")))
		if name != "" {
			alg := strings.TrimPrefix(name, "x-amz-checksum-")
			newHash := checksums[alg]
			if newHash == nil || alg == name {
				return &bodyError{"InvalidRequest", "unsupported trailer " + name}
			}
			d.sumName, d.sum = name, newHash()
		}
	}
	if dl == 0 {
		// Readers stop at the length and never read an empty body: its final chunk (its
		// signature) and trailer (its checksum) are checked here.
		if err := d.nextChunk(); err != io.EOF {
			if err == nil {
				err = chunkError("data in a body of X-Amz-Decoded-Content-Length 0")
			}
			var se s3Error
			if errors.As(err, &se) {
				return &bodyError{string(se.ErrorCode()), err.Error()}
			}
			return &bodyError{string(gofakes3.ErrIncompleteBody), err.Error()}
		}
	}
	r.Body = d
	r.ContentLength = dl
	r.Header = r.Header.Clone() // the server's request keeps its own
	r.Header.Set("Content-Length", strconv.FormatInt(dl, 10))
	r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	r.Header.Del("X-Amz-Decoded-Content-Length")
	r.Header.Del("X-Amz-Trailer")
	if ce := removeToken(r.Header.Get("Content-Encoding"), "aws-chunked"); ce == "" {
		r.Header.Del("Content-Encoding")
	} else {
		r.Header.Set("Content-Encoding", ce)
	}
	return nil
}

// checksums are the trailing checksums S3 clients send.
var checksums = map[string]func() hash.Hash{
	"crc32":     func() hash.Hash { return crc32.NewIEEE() },
	"crc32c":    func() hash.Hash { return crc32.New(crc32.MakeTable(crc32.Castagnoli)) },
	"crc64nvme": func() hash.Hash { return crc64.New(crc64.MakeTable(0x9a6c9329ac4bc9b5)) },
	"sha1":      sha1.New,
	"sha256":    sha256.New,
}

// removeToken removes a token from a comma-separated header value.
func removeToken(v, token string) string {
	var out []string
	for _, t := range strings.Split(v, ",") {
		if t = strings.TrimSpace(t); t != "" && !strings.EqualFold(t, token) {
			out = append(out, t)
		}
	}
	return strings.Join(out, ",")
}

// credentialScope reads date, region and service from an Authorization header's Credential.
func credentialScope(auth string) (date, region, service string, ok bool) {
	i := strings.Index(auth, "Credential=")
	if i < 0 {
		return "", "", "", false
	}
	cred := auth[i+len("Credential="):]
	if j := strings.IndexAny(cred, ", "); j >= 0 {
		cred = cred[:j]
	}
	parts := strings.Split(cred, "/")
	if len(parts) < 5 || parts[len(parts)-1] != "aws4_request" {
		return "", "", "", false
	}
	n := len(parts)
	return parts[n-4], parts[n-3], parts[n-2], true
}

func hmacSHA256(key []byte, s string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

// signingKey derives SigV4's signing key.
func signingKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, "aws4_request")
}

// chunkDecoder reads an aws-chunked body: chunks of "hex-size[;chunk-signature=sig]\r\n"
// + data + "\r\n", a zero-size chunk, then for the trailer modes trailing headers and an
// empty line.
type chunkDecoder struct {
	br   *bufio.Reader
	body io.Closer
	left int64 // decoded bytes still expected

	signed  bool
	key     []byte
	amzDate string
	scope   string
	prev    string // the previous signature in the chain

	trailer bool
	sumName string
	sum     hash.Hash

	chunkLeft int64
	chunkSig  string
	chunkHash hash.Hash
	err       error
}

func chunkError(format string, args ...any) error {
	return gofakes3.ErrorMessage(gofakes3.ErrIncompleteBody, fmt.Sprintf("aws-chunked body: "+format, args...))
}

var errChunkSignature = gofakes3.ErrorMessage(gofakes3.ErrBadDigest, "a chunk signature of the aws-chunked body does not match")

func (d *chunkDecoder) Close() error { return d.body.Close() }

// Read returns decoded bytes. The read that ends a chunk also checks its signature, and the
// read that ends the body also reads the final chunk and the trailer: readers stop at the
// decoded length without asking for io.EOF. A failed check fails that read with no bytes,
// so that a reader that got all it asked for still sees the error.
func (d *chunkDecoder) Read(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	if d.left == 0 {
		return 0, io.EOF
	}
	for d.chunkLeft == 0 {
		if err := d.nextChunk(); err != nil {
			d.err = err
			return 0, err
		}
	}
	if int64(len(p)) > d.chunkLeft {
		p = p[:d.chunkLeft]
	}
	n, err := d.br.Read(p)
	d.chunkLeft -= int64(n)
	d.left -= int64(n)
	d.chunkHash.Write(p[:n])
	if d.sum != nil {
		d.sum.Write(p[:n])
	}
	if d.left < 0 {
		d.err = chunkError("more than X-Amz-Decoded-Content-Length bytes")
		return 0, d.err
	}
	if err == io.EOF && d.chunkLeft > 0 {
		d.err = chunkError("truncated")
		return 0, d.err
	}
	if err != nil && err != io.EOF {
		d.err = err
		return n, err
	}
	if d.chunkLeft == 0 {
		if err := d.endChunk(); err != nil {
			d.err = err
			return 0, err
		}
		if d.left == 0 {
			// The last data byte: the final chunk and the trailer must check out too.
			if err := d.nextChunk(); err != io.EOF {
				if err == nil {
					err = chunkError("data after X-Amz-Decoded-Content-Length bytes")
				}
				d.err = err
				return 0, err
			}
		}
	}
	return n, nil
}

// endChunk reads the CRLF after a chunk's data and checks its signature.
func (d *chunkDecoder) endChunk() error {
	if l, err := d.line(); err != nil || l != "" {
		return chunkError("chunk data not followed by CRLF")
	}
	if err := d.verify(); err != nil {
		return err
	}
	d.chunkHash = nil
	return nil
}

// line reads one CRLF-terminated line (bounded).
func (d *chunkDecoder) line() (string, error) {
	b, err := d.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return "", chunkError("line too long")
	}
	if err != nil {
		return "", chunkError("truncated")
	}
	if len(b) < 2 || b[len(b)-2] != '\r' {
		return "", chunkError("line not ended by CRLF")
	}
	return string(b[:len(b)-2]), nil
}

// verify checks the signature of the chunk just read (or of an empty final chunk).
func (d *chunkDecoder) verify() error {
	if !d.signed {
		return nil
	}
	sum := emptySHA256
	if d.chunkHash != nil {
		sum = hex.EncodeToString(d.chunkHash.Sum(nil))
	}
	sts := "AWS4-HMAC-SHA256-PAYLOAD\n" + d.amzDate + "\n" + d.scope + "\n" + d.prev + "\n" + emptySHA256 + "\n" + sum
	want := hex.EncodeToString(hmacSHA256(d.key, sts))
	if !hmac.Equal([]byte(want), []byte(d.chunkSig)) {
		return errChunkSignature
	}
	d.prev = d.chunkSig
	return nil
}

// nextChunk finishes the current chunk and starts the next; at the final chunk it checks
// the trailer and returns io.EOF.
func (d *chunkDecoder) nextChunk() error {
	hdr, err := d.line()
	if err != nil {
		return err
	}
	sizeText, ext, _ := strings.Cut(hdr, ";")
	size, err := strconv.ParseInt(strings.TrimSpace(sizeText), 16, 64)
	if err != nil || size < 0 || size > maxChunk {
		return chunkError("bad chunk size %q", sizeText)
	}
	d.chunkSig = ""
	if d.signed {
		sig, ok := strings.CutPrefix(ext, "chunk-signature=")
		if !ok || len(sig) != 64 {
			return chunkError("missing chunk signature")
		}
		d.chunkSig = sig
	}
	if size > 0 {
		if size > d.left {
			return chunkError("a chunk of %d bytes past X-Amz-Decoded-Content-Length", size)
		}
		d.chunkLeft = size
		d.chunkHash = sha256.New()
		if !d.signed {
			d.chunkHash = nopHash{}
		}
		return nil
	}
	// The final chunk.
	if err := d.verify(); err != nil {
		return err
	}
	if d.left != 0 {
		return chunkError("%d bytes fewer than X-Amz-Decoded-Content-Length", d.left)
	}
	if d.trailer {
		if err := d.readTrailer(); err != nil {
			return err
		}
	} else if l, err := d.line(); err != nil || l != "" {
		return chunkError("final chunk not followed by CRLF")
	}
	return io.EOF
}

// readTrailer reads the trailing headers, checks the checksum and, for signed bodies, the
// trailer's signature.
func (d *chunkDecoder) readTrailer() error {
	var canon bytes.Buffer
	var sig, sumValue string
	for {
		l, err := d.line()
		if err != nil {
			return err
		}
		if l == "" {
			break
		}
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			return chunkError("bad trailer line")
		}
		name, value = strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(value)
		if name == "x-amz-trailer-signature" {
			sig = value
			continue
		}
		canon.WriteString(name + ":" + value + "\n")
		if name == d.sumName {
			sumValue = value
		}
	}
	if d.sum != nil {
		got := base64.StdEncoding.EncodeToString(d.sum.Sum(nil))
		if sumValue == "" {
			return gofakes3.ErrorMessage(gofakes3.ErrInvalidRequest, "the trailer lacks "+d.sumName)
		}
		if got != sumValue {
			return gofakes3.ErrorMessage(gofakes3.ErrBadDigest, "the body does not match "+d.sumName)
		}
	}
	if d.signed {
		h := sha256.Sum256(canon.Bytes())
		sts := "AWS4-HMAC-SHA256-TRAILER\n" + d.amzDate + "\n" + d.scope + "\n" + d.prev + "\n" + hex.EncodeToString(h[:])
		want := hex.EncodeToString(hmacSHA256(d.key, sts))
		if !hmac.Equal([]byte(want), []byte(sig)) {
			return errChunkSignature
		}
	}
	return nil
}

// nopHash stands in for a chunk hash when chunks are not signed.
type nopHash struct{}

func (nopHash) Write(p []byte) (int, error) { return len(p), nil }
func (nopHash) Sum(b []byte) []byte         { return b }
func (nopHash) Reset()                      {}
func (nopHash) Size() int                   { return 0 }
func (nopHash) BlockSize() int              { return 1 }
