package quilt

import "errors"

// Errors of the quilt format. Functions wrap them with details; test with errors.Is.
var (
	// ErrInvalidIdentifier: an identifier breaks Walrus's rules (see ValidateIdentifier).
	ErrInvalidIdentifier = errors.New("quilt: invalid identifier")
	// ErrDuplicateIdentifier: two patches of one quilt have the same identifier.
	ErrDuplicateIdentifier = errors.New("quilt: duplicate identifier")
	// ErrTooManyPatches: a quilt holds at most K_s-1 patches (666 for n = 1000).
	ErrTooManyPatches = errors.New("quilt: too many patches")
	// ErrTooLarge: the patches do not fit into one blob (the symbol size would exceed 65534),
	// or a patch, its tags or the index exceed their length fields.
	ErrTooLarge = errors.New("quilt: too large")
	// ErrMalformed: quilt bytes (an index or a patch read from columns) are not a valid quilt.
	ErrMalformed = errors.New("quilt: malformed quilt data")
	// ErrUnsupportedVersion: the quilt, patch or patch ID has a version other than 1.
	ErrUnsupportedVersion = errors.New("quilt: unsupported quilt version")
	// ErrInvalidPatchID: a QuiltPatchId or internal patch ID is not well formed.
	ErrInvalidPatchID = errors.New("quilt: invalid quilt patch ID")
	// ErrColumns: the columns given do not have the layout's column size, or are too few.
	ErrColumns = errors.New("quilt: wrong columns")
	// ErrNotFound: no patch of the quilt has the identifier or patch ID asked for.
	ErrNotFound = errors.New("quilt: patch not found")
)
