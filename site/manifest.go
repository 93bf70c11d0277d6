package site

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/floelabs/floe/quilt"
)

// AttrManifest is the attribute of a site object that names the blob ID of the site's current
// manifest.
const AttrManifest = "_floeSiteManifest"

// ManifestVersion is the version of the manifest format this package writes and reads.
const ManifestVersion = 1

// Limits of a manifest, checked when one is parsed (a manifest read from the network is
// untrusted).
const (
	// MaxManifestSize bounds the bytes of a manifest.
	MaxManifestSize = 64 << 20
	// MaxResources bounds the resources of a site.
	MaxResources = 1 << 20
	// MaxPathLen bounds a resource path, pattern or redirect location, in bytes.
	MaxPathLen = 4096
	// MaxHeaders bounds the headers of one resource.
	MaxHeaders = 64
	// MaxHeaderLen bounds a header's name plus value, in bytes.
	MaxHeaderLen = 8192
	// MaxRules bounds the routes and the redirects of a site (each).
	MaxRules = 4096
	// MaxFileSize is the largest file a site holds: a quilt patch's length field is a u32
	// that also counts the patch's header, identifier and tags.
	MaxFileSize = 1<<32 - 1 - 1<<17
)

// Hash is a SHA-256 digest, written in JSON as 64 lower-case hex digits.
type Hash [sha256.Size]byte

// SumSHA256 returns the SHA-256 of data.
func SumSHA256(data []byte) Hash { return sha256.Sum256(data) }

// String returns the hex form.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// MarshalText implements encoding.TextMarshaler.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler (lower-case hex only, so that a hash has
// one text form).
func (h *Hash) UnmarshalText(b []byte) error {
	if len(b) != 2*sha256.Size || strings.ToLower(string(b)) != string(b) {
		return fmt.Errorf("sha256 %q: want %d lower-case hex digits", b, 2*sha256.Size)
	}
	_, err := hex.Decode(h[:], b)
	return err
}

// Resource is one file of a site.
type Resource struct {
	// PatchID is the quilt patch holding the file's bytes.
	PatchID quilt.PatchID `json:"quilt_patch_id"`
	// SHA256 is the digest of the file's bytes; a portal checks it before serving them.
	SHA256 Hash `json:"sha256"`
	// Size is the file's length in bytes.
	Size uint64 `json:"size"`
	// Headers are served with the file: lower-case names, with at least content-type.
	Headers map[string]string `json:"headers,omitempty"`
}

// Redirect is a redirect rule's target (as ws-resources.json writes it).
type Redirect struct {
	Location   string `json:"location"`
	StatusCode int    `json:"status_code"`
}

// Metadata describes a site, as the metadata of ws-resources.json (Walrus puts it in the
// site's Sui Display object).
type Metadata struct {
	Link        string `json:"link,omitempty"`
	ImageURL    string `json:"image_url,omitempty"`
	Description string `json:"description,omitempty"`
	ProjectURL  string `json:"project_url,omitempty"`
	Creator     string `json:"creator,omitempty"`
}

// Manifest describes one version of a site: its resources by path, its routes and redirects.
// Its JSON form is deterministic (maps are written in key order), so the same site gives the
// same manifest blob.
type Manifest struct {
	Version  int       `json:"version"`
	SiteName string    `json:"site_name,omitempty"`
	Metadata *Metadata `json:"metadata,omitempty"`
	// Resources by path: absolute, clean paths such as "/index.html".
	Resources map[string]Resource `json:"resources"`
	// Routes map path patterns to resource paths, served when no resource has the path
	// (client-side routing): "/app/*": "/index.html". The longest matching pattern wins; '*'
	// matches any run of characters, '/' included (Walrus's routes).
	Routes map[string]string `json:"routes,omitempty"`
	// Redirects map path globs to redirects, tried before routes when no resource has the
	// path: '*' matches within one path segment and a whole '**' segment matches any number
	// of segments; the most specific glob wins (Walrus's redirects).
	Redirects map[string]Redirect `json:"redirects,omitempty"`
}

// Marshal returns the manifest's JSON form after validating it.
func (m *Manifest) Marshal() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("site: encoding the manifest: %w", err)
	}
	return buf.Bytes(), nil
}

// ParseManifest decodes and validates a manifest (untrusted bytes: unknown fields, trailing
// data and anything Validate refuses are errors).
func ParseManifest(b []byte) (*Manifest, error) {
	if len(b) > MaxManifestSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrInvalidManifest, len(b), MaxManifestSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidManifest, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the manifest", ErrInvalidManifest)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Validate checks the manifest: version, paths, headers, routes and redirects.
func (m *Manifest) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidManifest, fmt.Sprintf(format, args...))
	}
	if m.Version != ManifestVersion {
		return bad("version %d, want %d", m.Version, ManifestVersion)
	}
	if err := validText("site_name", m.SiteName); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidManifest, err)
	}
	if err := m.Metadata.validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidManifest, err)
	}
	if len(m.Resources) > MaxResources {
		return bad("%d resources, limit %d", len(m.Resources), MaxResources)
	}
	for p, r := range m.Resources {
		if err := ValidatePath(p); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidManifest, err)
		}
		if r.Size > MaxFileSize {
			return bad("%s: %d bytes, limit %d", p, r.Size, uint64(MaxFileSize))
		}
		if err := validateHeaders(r.Headers); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrInvalidManifest, p, err)
		}
		for k := range r.Headers {
			if k != strings.ToLower(k) {
				return bad("%s: header %q is not lower case", p, k)
			}
		}
	}
	if err := validateRules(m.Routes, m.Redirects); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidManifest, err)
	}
	return nil
}

func (md *Metadata) validate() error {
	if md == nil {
		return nil
	}
	for _, f := range []struct{ name, v string }{{"link", md.Link}, {"image_url", md.ImageURL},
		{"description", md.Description}, {"project_url", md.ProjectURL}, {"creator", md.Creator}} {
		if err := validText("metadata."+f.name, f.v); err != nil {
			return err
		}
	}
	return nil
}

// validText checks a free-text field: valid UTF-8 of at most MaxPathLen bytes.
func validText(name, s string) error {
	if len(s) > MaxPathLen || !utf8.ValidString(s) {
		return fmt.Errorf("%s: not UTF-8 text of at most %d bytes", name, MaxPathLen)
	}
	return nil
}

// validateRules checks routes and redirects.
func validateRules(routes map[string]string, redirects map[string]Redirect) error {
	if len(routes) > MaxRules || len(redirects) > MaxRules {
		return fmt.Errorf("%w: %d routes and %d redirects, limit %d each", ErrInvalidPattern, len(routes), len(redirects), MaxRules)
	}
	for pat, target := range routes {
		if err := ValidateRoutePattern(pat); err != nil {
			return err
		}
		if err := ValidatePath(target); err != nil {
			return fmt.Errorf("route %q: target: %w", pat, err)
		}
	}
	for pat, rd := range redirects {
		if err := ValidateRedirectPattern(pat); err != nil {
			return err
		}
		if err := rd.Validate(); err != nil {
			return fmt.Errorf("redirect %q: %w", pat, err)
		}
	}
	return nil
}

// Validate checks a redirect: a location that is a valid header value, and a redirect status
// (301, 302, 303, 307 or 308).
func (r Redirect) Validate() error {
	switch r.StatusCode {
	case 301, 302, 303, 307, 308:
	default:
		return fmt.Errorf("%w: status code %d (want 301, 302, 303, 307 or 308)", ErrInvalidRedirect, r.StatusCode)
	}
	if r.Location == "" || len(r.Location) > MaxPathLen || !validHeaderValue(r.Location) {
		return fmt.Errorf("%w: location %q", ErrInvalidRedirect, r.Location)
	}
	return nil
}

// ValidatePath checks a resource path: absolute ("/" first), clean (no empty, "." or ".."
// segment, no trailing slash), valid UTF-8 without control characters or backslashes, at most
// MaxPathLen bytes.
func ValidatePath(p string) error {
	if len(p) < 2 || len(p) > MaxPathLen || p[0] != '/' || !utf8.ValidString(p) {
		return fmt.Errorf("%w: %q", ErrInvalidPath, p)
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\\' {
			return fmt.Errorf("%w: %q holds a control character or backslash", ErrInvalidPath, p)
		}
	}
	for _, seg := range strings.Split(p[1:], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("%w: %q is not a clean path", ErrInvalidPath, p)
		}
	}
	return nil
}

// validateHeaders checks header names (HTTP tokens) and values (no control characters but
// tab), their count and sizes.
func validateHeaders(h map[string]string) error {
	if len(h) > MaxHeaders {
		return fmt.Errorf("%w: %d headers, limit %d", ErrInvalidHeader, len(h), MaxHeaders)
	}
	for k, v := range h {
		if !validHeaderName(k) {
			return fmt.Errorf("%w: name %q", ErrInvalidHeader, k)
		}
		if len(k)+len(v) > MaxHeaderLen || !validHeaderValue(v) {
			return fmt.Errorf("%w: value of %s", ErrInvalidHeader, k)
		}
	}
	return nil
}

// validHeaderName reports whether s is an HTTP token (RFC 9110 §5.6.2).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validHeaderValue reports whether s may be sent as a header value: no control characters but
// horizontal tab, no leading or trailing white space.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return strings.TrimSpace(s) == s
}

// Paths returns the manifest's resource paths, sorted.
func (m *Manifest) Paths() []string {
	out := make([]string, 0, len(m.Resources))
	for p := range m.Resources {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}
