// Package quilt implements Walrus's quilt format (QuiltV1), byte for byte: many small files
// ("patches") batched into one blob, so that they share the fixed per-blob cost of the
// encoding (at n = 1000 every blob pays for about 64 MB of metadata, whatever its size).
//
// A quilt is an ordinary RS2 blob whose K_p x K_s message matrix (see package redstuff) is laid
// out by columns. Column c is secondary sliver c, which a reader fetches from sliver pair
// n-1-c; each column holds K_p symbols, ColumnSize = K_p*SymbolSize bytes, written top to
// bottom. The first columns hold the index (0x01 || u32le length || BCS(QuiltIndexV1)); the
// patches follow in byte-wise order of their identifiers, each in whole columns of its own, as
// header (0x01 || u32le length || mask) || u16le || BCS(identifier) [|| u16le || BCS(tags)] ||
// data. The symbol size is the smallest even size for which everything fits, and the quilt
// blob is the whole matrix (its unencoded length is K_p*K_s*SymbolSize).
//
// A patch is named by its QuiltPatchId: the quilt's blob ID followed by the internal ID
// 0x01 || u16le start column || u16le end column, in URL-safe base64 without padding. Because
// a patch occupies whole columns, a reader fetches only the secondary slivers
// [Start, End) of the patch (and, to resolve identifiers, the index's columns), not the blob.
//
// The package is pure computation: it builds quilt bytes (Encode), decodes the index and
// patches from column bytes (IndexColumns, DecodeIndex, DecodePatch) or from a whole quilt
// blob (Decode), and handles identifiers and patch IDs. Storing the blob, fetching slivers
// and verifying them belong to the callers (redstuff, blob and the client).
package quilt
