package quilt

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxIdentifierLen is the longest identifier ValidateIdentifier accepts, in bytes. A patch
// header stores the identifier's BCS length in a u16 that must stay below 65535, so Encode
// accepts at most 65531 bytes (65534 with the 3-byte length prefix).
const MaxIdentifierLen = 65535

// ValidateIdentifier applies Walrus's core rules for a patch identifier
// (validate_quilt_identifier): valid UTF-8, not empty, at most MaxIdentifierLen bytes, no
// trailing Unicode white space, no control characters (Unicode category Cc: U+0000..U+001F and
// U+007F..U+009F). Anything else is allowed, including a leading '_', '-' or '.', inner spaces
// and slashes. (Walrus's publisher additionally reserves the multipart field name "_metadata".)
func ValidateIdentifier(id string) error {
	if len(id) > MaxIdentifierLen {
		return fmt.Errorf("%w: %d bytes long, the limit is %d", ErrInvalidIdentifier, len(id), MaxIdentifierLen)
	}
	if id == "" {
		return fmt.Errorf("%w: empty", ErrInvalidIdentifier)
	}
	if !utf8.ValidString(id) {
		return fmt.Errorf("%w: %q is not valid UTF-8", ErrInvalidIdentifier, id)
	}
	if strings.TrimRightFunc(id, unicode.IsSpace) != id {
		return fmt.Errorf("%w: %q ends with white space", ErrInvalidIdentifier, id)
	}
	if strings.IndexFunc(id, unicode.IsControl) >= 0 {
		return fmt.Errorf("%w: %q contains a control character", ErrInvalidIdentifier, id)
	}
	return nil
}
