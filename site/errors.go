package site

import "errors"

// Errors of the site package. Functions wrap them with details; test with errors.Is.
var (
	// ErrInvalidManifest: manifest bytes are not a valid site manifest.
	ErrInvalidManifest = errors.New("site: invalid manifest")
	// ErrInvalidResources: ws-resources.json is not valid.
	ErrInvalidResources = errors.New("site: invalid ws-resources.json")
	// ErrInvalidPath: a resource path is not a clean absolute path.
	ErrInvalidPath = errors.New("site: invalid resource path")
	// ErrInvalidHeader: a header name or value cannot be sent in HTTP.
	ErrInvalidHeader = errors.New("site: invalid header")
	// ErrInvalidPattern: a route, redirect or ignore pattern is not valid.
	ErrInvalidPattern = errors.New("site: invalid pattern")
	// ErrInvalidRedirect: a redirect's location or status code is not valid.
	ErrInvalidRedirect = errors.New("site: invalid redirect")
	// ErrInvalidSiteID: a host label or object ID does not name a site object.
	ErrInvalidSiteID = errors.New("site: invalid site ID")
	// ErrNotASite: the object exists but is not a site (it has no manifest attribute).
	ErrNotASite = errors.New("site: the object is not a site")
	// ErrEmptySite: the directory holds no file to publish.
	ErrEmptySite = errors.New("site: no files to publish")
	// ErrNotOwner: the wallet does not own the site object, so it cannot update it.
	ErrNotOwner = errors.New("site: the wallet does not own the site")
	// ErrKeptExpires: an update keeps a file whose quilt would expire before the site, and the
	// wallet owns no object of that quilt to extend.
	ErrKeptExpires = errors.New("site: a kept file's quilt expires before the site")
)
