package site

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/floelabs/floe/client"
)

// ResourcesFile is the name of the site configuration file in a site's root directory. It is
// read when publishing and never published.
const ResourcesFile = "ws-resources.json"

// maxResourcesFileSize bounds ws-resources.json.
const maxResourcesFileSize = 16 << 20

// WSResources is ws-resources.json, as Walrus's site-builder reads it (snake_case fields,
// unknown fields refused).
type WSResources struct {
	// Headers by exact resource path; names are case-insensitive and override the defaults.
	Headers map[string]map[string]string `json:"headers,omitempty"`
	// Routes map patterns to resource paths (see Manifest.Routes).
	Routes map[string]string `json:"routes,omitempty"`
	// Redirects map globs to redirects (see Manifest.Redirects).
	Redirects map[string]Redirect `json:"redirects,omitempty"`
	Metadata  *Metadata           `json:"metadata,omitempty"`
	SiteName  string              `json:"site_name,omitempty"`
	// ObjectID is the site's object ID, which `floe site update` uses when no site is named.
	ObjectID string `json:"object_id,omitempty"`
	// Ignore lists paths not to publish: exact, or prefixes ending in '*'.
	Ignore []string `json:"ignore,omitempty"`
}

// ParseWSResources decodes and validates ws-resources.json.
func ParseWSResources(b []byte) (*WSResources, error) {
	if len(b) > maxResourcesFileSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrInvalidResources, len(b), maxResourcesFileSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var ws WSResources
	if err := dec.Decode(&ws); err != nil {
		return nil, fmt.Errorf("%w: %w (field names are snake_case, e.g. site_name)", ErrInvalidResources, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the object", ErrInvalidResources)
	}
	if err := ws.Validate(); err != nil {
		return nil, err
	}
	return &ws, nil
}

// ReadWSResources reads ws-resources.json from the root of fsys; it returns an empty
// configuration when there is none.
func ReadWSResources(fsys fs.FS) (*WSResources, error) {
	f, err := fsys.Open(ResourcesFile)
	if errors.Is(err, fs.ErrNotExist) {
		return &WSResources{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("site: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxResourcesFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("site: reading %s: %w", ResourcesFile, err)
	}
	return ParseWSResources(b)
}

// Validate checks every field.
func (ws *WSResources) Validate() error {
	for p, h := range ws.Headers {
		if err := ValidatePath(p); err != nil {
			return fmt.Errorf("%w: headers: %w", ErrInvalidResources, err)
		}
		lower := map[string]string{}
		for k, v := range h {
			lk := strings.ToLower(k)
			if _, dup := lower[lk]; dup {
				return fmt.Errorf("%w: headers of %s: %q given twice", ErrInvalidResources, p, lk)
			}
			lower[lk] = v
		}
		if err := validateHeaders(lower); err != nil {
			return fmt.Errorf("%w: headers of %s: %w", ErrInvalidResources, p, err)
		}
	}
	if err := validateRules(ws.Routes, ws.Redirects); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidResources, err)
	}
	if err := ws.Metadata.validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidResources, err)
	}
	if err := validText("site_name", ws.SiteName); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidResources, err)
	}
	if ws.ObjectID != "" {
		if _, err := client.ParseObjectID(ws.ObjectID); err != nil {
			return fmt.Errorf("%w: object_id: %w", ErrInvalidResources, err)
		}
	}
	for _, p := range ws.Ignore {
		if err := ValidateIgnorePattern(p); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidResources, err)
		}
	}
	return nil
}

// SaveObjectID records the site's object ID (and, when the file names none, siteName) in the
// ws-resources.json at path, creating it if there is none, as Walrus's site-builder does after
// a deployment: the next `floe site update` or `deploy` of the directory finds the site there.
// The file is replaced atomically; its other settings are kept.
func SaveObjectID(path string, id client.ObjectID, siteName string) error {
	ws := &WSResources{}
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if ws, err = ParseWSResources(b); err != nil {
			return err
		}
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("site: reading %s: %w", path, err)
	}
	if ws.ObjectID == id.String() && (ws.SiteName != "" || siteName == "") {
		return nil
	}
	ws.ObjectID = id.String()
	if ws.SiteName == "" {
		ws.SiteName = siteName
	}
	out, err := json.MarshalIndent(ws, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("site: saving the object ID: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(out, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("site: saving the object ID: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("site: saving the object ID: %w", err)
	}
	return nil
}
