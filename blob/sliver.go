package blob

import (
	"fmt"

	"github.com/floelabs/floe/internal/bcs"
	"github.com/floelabs/floe/redstuff"
)

// The BCS wire forms of spec §4. Decoders never panic on hostile input; the byte slices they
// return (sliver and symbol data) alias the input.

// checkSymbols validates Symbols { data, symbol_size }: an even, non-zero symbol size of at
// most 65 534 and data that is a whole number of symbols.
func checkSymbols(data []byte, symbolSize int) error {
	if symbolSize <= 0 || symbolSize > redstuff.MaxSymbolSize || symbolSize%redstuff.SymbolAlignment != 0 {
		return fmt.Errorf("%w: symbol size %d (must be even, 2..%d)", ErrInvalidSymbols, symbolSize, redstuff.MaxSymbolSize)
	}
	if len(data)%symbolSize != 0 {
		return fmt.Errorf("%w: %d bytes are not a whole number of %d-byte symbols", ErrInvalidSymbols, len(data), symbolSize)
	}
	return nil
}

// SliverDataSize returns the length of the BCS SliverData of s.
func SliverDataSize(s redstuff.Sliver) int { return SliverDataLen(len(s.Data)) }

// SliverDataLen returns the length of the BCS SliverData of a sliver of dataLen bytes.
func SliverDataLen(dataLen int) int {
	return bcs.ULEB128Size(uint64(dataLen)) + dataLen + 2 + 2
}

// SliverData { symbols: Symbols { data: vector<u8>, symbol_size: u16 }, index: u16 }.

func encodeSliverData(e *bcs.Encoder, s redstuff.Sliver) {
	if err := checkSymbols(s.Data, s.SymbolSize); err != nil {
		e.Fail(err)
		return
	}
	e.ByteVec(s.Data)
	e.U16(uint16(s.SymbolSize))
	encodeU16(e, "sliver index", s.Index)
}

func decodeSliverData(d *bcs.Decoder, a redstuff.Axis) redstuff.Sliver {
	data := d.ByteVec()
	symbolSize := int(d.U16())
	index := d.IntU16()
	if d.Err() != nil {
		return redstuff.Sliver{}
	}
	if err := checkSymbols(data, symbolSize); err != nil {
		d.Fail(err)
		return redstuff.Sliver{}
	}
	return redstuff.Sliver{Axis: a, Index: index, SymbolSize: symbolSize, Data: data}
}

// AppendSliverData appends the BCS SliverData of s to dst: the body of a sliver upload and of
// a sliver download. The axis is not part of it (it is in the URL).
func AppendSliverData(dst []byte, s redstuff.Sliver) ([]byte, error) {
	e := bcs.NewEncoder(dst)
	encodeSliverData(e, s)
	return e.Result()
}

// SliverDataParts returns the BCS SliverData of s as the bytes before and after s.Data: head
// || s.Data || tail is AppendSliverData's encoding, for writers that send the (large) data
// in place instead of copying it.
func SliverDataParts(s redstuff.Sliver) (head, tail []byte, err error) {
	if err := checkSymbols(s.Data, s.SymbolSize); err != nil {
		return nil, nil, err
	}
	return SliverDataFraming(len(s.Data), s.SymbolSize, s.Index)
}

// SliverDataFraming is SliverDataParts for a sliver of dataLen bytes held elsewhere (a file):
// the BCS bytes before and after its data.
func SliverDataFraming(dataLen, symbolSize, index int) (head, tail []byte, err error) {
	if err := checkSymbols(nil, symbolSize); err != nil {
		return nil, nil, err
	}
	if dataLen < 0 || dataLen%symbolSize != 0 {
		return nil, nil, fmt.Errorf("%w: %d bytes are not a whole number of %d-byte symbols", ErrInvalidSymbols, dataLen, symbolSize)
	}
	h := bcs.NewEncoder(make([]byte, 0, 10))
	h.Len(dataLen)
	t := bcs.NewEncoder(make([]byte, 0, 4))
	t.U16(uint16(symbolSize))
	encodeU16(t, "sliver index", index)
	if head, err = h.Result(); err != nil {
		return nil, nil, err
	}
	if tail, err = t.Result(); err != nil {
		return nil, nil, err
	}
	return head, tail, nil
}

// MarshalSliverData returns the BCS SliverData of s.
func MarshalSliverData(s redstuff.Sliver) ([]byte, error) {
	return AppendSliverData(make([]byte, 0, SliverDataSize(s)), s)
}

// UnmarshalSliverData decodes a BCS SliverData as a sliver of axis a. It checks the structure
// only (see VerifySliver). The sliver's Data aliases b.
func UnmarshalSliverData(b []byte, a redstuff.Axis) (redstuff.Sliver, error) {
	if err := checkAxis(a); err != nil {
		return redstuff.Sliver{}, err
	}
	d := bcs.NewDecoder(b)
	s := decodeSliverData(d, a)
	if err := d.Finish(); err != nil {
		return redstuff.Sliver{}, malformed("SliverData", err)
	}
	return s, nil
}

// Sliver enum { Primary(SliverData), Secondary(SliverData) }, used in shard sync responses.

func encodeSliver(e *bcs.Encoder, s redstuff.Sliver) {
	if err := checkAxis(s.Axis); err != nil {
		e.Fail(err)
		return
	}
	e.Variant(uint32(s.Axis))
	encodeSliverData(e, s)
}

func decodeAxis(d *bcs.Decoder, what string) redstuff.Axis {
	v := d.Variant()
	if d.Err() == nil && v > uint32(redstuff.Secondary) {
		d.Fail(fmt.Errorf("%w: %s %d", ErrUnknownVariant, what, v))
	}
	return redstuff.Axis(v)
}

// AppendSliver appends the BCS Sliver enum of s (variant = s.Axis) to dst.
func AppendSliver(dst []byte, s redstuff.Sliver) ([]byte, error) {
	e := bcs.NewEncoder(dst)
	encodeSliver(e, s)
	return e.Result()
}

// MarshalSliver returns the BCS Sliver enum of s.
func MarshalSliver(s redstuff.Sliver) ([]byte, error) {
	return AppendSliver(make([]byte, 0, 1+SliverDataSize(s)), s)
}

// UnmarshalSliver decodes a BCS Sliver enum. The sliver's Data aliases b.
func UnmarshalSliver(b []byte) (redstuff.Sliver, error) {
	d := bcs.NewDecoder(b)
	a := decodeAxis(d, "Sliver")
	var s redstuff.Sliver
	if d.Err() == nil {
		s = decodeSliverData(d, a)
	}
	if err := d.Finish(); err != nil {
		return redstuff.Sliver{}, malformed("Sliver", err)
	}
	return s, nil
}

// DecodingSymbol is Walrus's DecodingSymbol { index: u16, data: vector<u8> }: one symbol
// without a proof. Index is the index of the source sliver the symbol came from, which is its
// position in the code that rebuilds the target sliver.
type DecodingSymbol struct {
	Index int
	Data  []byte
}

func (s DecodingSymbol) size() int {
	return 2 + bcs.ULEB128Size(uint64(len(s.Data))) + len(s.Data)
}

func (s DecodingSymbol) encode(e *bcs.Encoder) {
	encodeU16(e, "symbol index", s.Index)
	e.ByteVec(s.Data)
}

func (s *DecodingSymbol) decode(d *bcs.Decoder) {
	s.Index = d.IntU16()
	s.Data = d.ByteVec()
}

// AppendBCS appends the BCS encoding of s to dst.
func (s DecodingSymbol) AppendBCS(dst []byte) ([]byte, error) {
	e := bcs.NewEncoder(dst)
	s.encode(e)
	return e.Result()
}

// MarshalBCS returns the BCS encoding of s.
func (s DecodingSymbol) MarshalBCS() ([]byte, error) {
	return s.AppendBCS(make([]byte, 0, s.size()))
}

// UnmarshalBCS decodes a BCS DecodingSymbol into s; Data aliases b. On error s is unchanged.
func (s *DecodingSymbol) UnmarshalBCS(b []byte) error {
	d := bcs.NewDecoder(b)
	var v DecodingSymbol
	v.decode(d)
	if err := d.Finish(); err != nil {
		return malformed("DecodingSymbol", err)
	}
	*s = v
	return nil
}

// EitherDecodingSymbol is Walrus's enum { Primary(DecodingSymbol), Secondary(DecodingSymbol) };
// the variant is the axis of the target sliver the symbol helps rebuild.
type EitherDecodingSymbol struct {
	Target redstuff.Axis
	Symbol DecodingSymbol
}

func (s EitherDecodingSymbol) encode(e *bcs.Encoder) {
	if err := checkAxis(s.Target); err != nil {
		e.Fail(err)
		return
	}
	e.Variant(uint32(s.Target))
	s.Symbol.encode(e)
}

func (s *EitherDecodingSymbol) decode(d *bcs.Decoder) {
	s.Target = decodeAxis(d, "EitherDecodingSymbol")
	s.Symbol.decode(d)
}

// AppendBCS appends the BCS encoding of s to dst.
func (s EitherDecodingSymbol) AppendBCS(dst []byte) ([]byte, error) {
	e := bcs.NewEncoder(dst)
	s.encode(e)
	return e.Result()
}

// MarshalBCS returns the BCS encoding of s.
func (s EitherDecodingSymbol) MarshalBCS() ([]byte, error) {
	return s.AppendBCS(make([]byte, 0, 1+s.Symbol.size()))
}

// UnmarshalBCS decodes a BCS EitherDecodingSymbol into s; Data aliases b. On error s is
// unchanged.
func (s *EitherDecodingSymbol) UnmarshalBCS(b []byte) error {
	d := bcs.NewDecoder(b)
	var v EitherDecodingSymbol
	v.decode(d)
	if err := d.Finish(); err != nil {
		return malformed("EitherDecodingSymbol", err)
	}
	*s = v
	return nil
}

// RecoverySymbol { symbol: DecodingSymbol, proof: MerkleProof }: the axis and target index
// come from the context (an InconsistencyProof).

func recoverySymbolSize(sym redstuff.RecoverySymbol) int {
	return DecodingSymbol{Index: sym.SourceIndex, Data: sym.Data}.size() + proofSize(sym.Proof)
}

func encodeRecoverySymbol(e *bcs.Encoder, sym redstuff.RecoverySymbol) {
	DecodingSymbol{Index: sym.SourceIndex, Data: sym.Data}.encode(e)
	encodeProof(e, sym.Proof)
}

func decodeRecoverySymbol(d *bcs.Decoder, target redstuff.Axis, targetIndex int) redstuff.RecoverySymbol {
	var ds DecodingSymbol
	ds.decode(d)
	proof := decodeProof(d)
	return redstuff.RecoverySymbol{
		Target:      target,
		SourceIndex: ds.Index,
		TargetIndex: targetIndex,
		Data:        ds.Data,
		Proof:       proof,
	}
}

// AppendRecoverySymbol appends Walrus's RecoverySymbol { symbol: DecodingSymbol { index:
// SourceIndex, data }, proof } to dst. sym.Target and sym.TargetIndex are not part of it.
func AppendRecoverySymbol(dst []byte, sym redstuff.RecoverySymbol) ([]byte, error) {
	e := bcs.NewEncoder(dst)
	encodeRecoverySymbol(e, sym)
	return e.Result()
}

// MarshalRecoverySymbol returns Walrus's BCS RecoverySymbol of sym (see AppendRecoverySymbol).
func MarshalRecoverySymbol(sym redstuff.RecoverySymbol) ([]byte, error) {
	return AppendRecoverySymbol(make([]byte, 0, recoverySymbolSize(sym)), sym)
}

// UnmarshalRecoverySymbol decodes Walrus's BCS RecoverySymbol as a symbol for rebuilding
// sliver targetIndex of axis target. Data aliases b.
func UnmarshalRecoverySymbol(b []byte, target redstuff.Axis, targetIndex int) (redstuff.RecoverySymbol, error) {
	if err := checkAxis(target); err != nil {
		return redstuff.RecoverySymbol{}, err
	}
	d := bcs.NewDecoder(b)
	sym := decodeRecoverySymbol(d, target, targetIndex)
	if err := d.Finish(); err != nil {
		return redstuff.RecoverySymbol{}, malformed("RecoverySymbol", err)
	}
	return sym, nil
}

// GeneralRecoverySymbol { symbol: EitherDecodingSymbol, target_index: u16, proof: MerkleProof }:
// the variant is sym.Target, the decoding symbol's index sym.SourceIndex.

func generalRecoverySymbolSize(sym redstuff.RecoverySymbol) int {
	return 1 + 2 + recoverySymbolSize(sym)
}

func encodeGeneralRecoverySymbol(e *bcs.Encoder, sym redstuff.RecoverySymbol) {
	EitherDecodingSymbol{Target: sym.Target, Symbol: DecodingSymbol{Index: sym.SourceIndex, Data: sym.Data}}.encode(e)
	encodeU16(e, "target index", sym.TargetIndex)
	encodeProof(e, sym.Proof)
}

func decodeGeneralRecoverySymbol(d *bcs.Decoder) redstuff.RecoverySymbol {
	var ds EitherDecodingSymbol
	ds.decode(d)
	targetIndex := d.IntU16()
	proof := decodeProof(d)
	return redstuff.RecoverySymbol{
		Target:      ds.Target,
		SourceIndex: ds.Symbol.Index,
		TargetIndex: targetIndex,
		Data:        ds.Symbol.Data,
		Proof:       proof,
	}
}

// AppendGeneralRecoverySymbol appends the BCS GeneralRecoverySymbol of sym to dst.
func AppendGeneralRecoverySymbol(dst []byte, sym redstuff.RecoverySymbol) ([]byte, error) {
	e := bcs.NewEncoder(dst)
	encodeGeneralRecoverySymbol(e, sym)
	return e.Result()
}

// MarshalGeneralRecoverySymbol returns the BCS GeneralRecoverySymbol of sym.
func MarshalGeneralRecoverySymbol(sym redstuff.RecoverySymbol) ([]byte, error) {
	return AppendGeneralRecoverySymbol(make([]byte, 0, generalRecoverySymbolSize(sym)), sym)
}

// UnmarshalGeneralRecoverySymbol decodes a BCS GeneralRecoverySymbol. It checks the structure
// only (see VerifyRecoverySymbol). Data aliases b.
func UnmarshalGeneralRecoverySymbol(b []byte) (redstuff.RecoverySymbol, error) {
	d := bcs.NewDecoder(b)
	sym := decodeGeneralRecoverySymbol(d)
	if err := d.Finish(); err != nil {
		return redstuff.RecoverySymbol{}, malformed("GeneralRecoverySymbol", err)
	}
	return sym, nil
}

// MarshalGeneralRecoverySymbols returns the BCS vector<GeneralRecoverySymbol> of syms: the
// body of a node's recoverySymbols response.
func MarshalGeneralRecoverySymbols(syms []redstuff.RecoverySymbol) ([]byte, error) {
	size := bcs.ULEB128Size(uint64(len(syms)))
	for _, s := range syms {
		size += generalRecoverySymbolSize(s)
	}
	e := bcs.NewEncoder(make([]byte, 0, size))
	e.Len(len(syms))
	for _, s := range syms {
		encodeGeneralRecoverySymbol(e, s)
	}
	return e.Result()
}

// UnmarshalGeneralRecoverySymbols decodes a BCS vector<GeneralRecoverySymbol>. Data slices
// alias b.
func UnmarshalGeneralRecoverySymbols(b []byte) ([]redstuff.RecoverySymbol, error) {
	d := bcs.NewDecoder(b)
	n := d.SeqLen(minGeneralRecoverySize)
	var syms []redstuff.RecoverySymbol
	if n > 0 {
		syms = make([]redstuff.RecoverySymbol, n)
		for i := range syms {
			syms[i] = decodeGeneralRecoverySymbol(d)
		}
	}
	if err := d.Finish(); err != nil {
		return nil, malformed("vector<GeneralRecoverySymbol>", err)
	}
	return syms, nil
}

// InconsistencyProof { target_sliver_index: u16, recovery_symbols: vector<RecoverySymbol> };
// the axis is the target's, known from the context (the URL).

// AppendInconsistencyProof appends the BCS InconsistencyProof of p to dst. Every symbol must
// target p's axis and index, since the wire form stores them once.
func AppendInconsistencyProof(dst []byte, p *redstuff.InconsistencyProof) ([]byte, error) {
	e := bcs.NewEncoder(dst)
	if err := checkAxis(p.Target); err != nil {
		return nil, err
	}
	if len(p.Symbols) > maxCount {
		return nil, fmt.Errorf("%w: %d recovery symbols > %d", ErrIndexRange, len(p.Symbols), maxCount)
	}
	for i, s := range p.Symbols {
		if s.Target != p.Target || s.TargetIndex != p.TargetIndex {
			return nil, fmt.Errorf("%w: symbol %d targets %s sliver %d, the proof %s sliver %d",
				ErrTargetMismatch, i, s.Target, s.TargetIndex, p.Target, p.TargetIndex)
		}
	}
	encodeU16(e, "target sliver index", p.TargetIndex)
	e.Len(len(p.Symbols))
	for _, s := range p.Symbols {
		encodeRecoverySymbol(e, s)
	}
	return e.Result()
}

// MarshalInconsistencyProof returns the BCS InconsistencyProof of p (see
// AppendInconsistencyProof).
func MarshalInconsistencyProof(p *redstuff.InconsistencyProof) ([]byte, error) {
	size := 2 + bcs.ULEB128Size(uint64(len(p.Symbols)))
	for _, s := range p.Symbols {
		size += recoverySymbolSize(s)
	}
	return AppendInconsistencyProof(make([]byte, 0, size), p)
}

// UnmarshalInconsistencyProof decodes a BCS InconsistencyProof whose target sliver has axis a.
// It checks the structure only (see VerifyInconsistencyProof). Data slices alias b.
func UnmarshalInconsistencyProof(b []byte, a redstuff.Axis) (*redstuff.InconsistencyProof, error) {
	if err := checkAxis(a); err != nil {
		return nil, err
	}
	d := bcs.NewDecoder(b)
	target := d.IntU16()
	n := d.SeqLen(minRecoverySymbolSize)
	if n > maxCount {
		d.Fail(fmt.Errorf("%w: %d recovery symbols > %d", ErrIndexRange, n, maxCount))
	}
	p := &redstuff.InconsistencyProof{Target: a, TargetIndex: target}
	if d.Err() == nil && n > 0 {
		p.Symbols = make([]redstuff.RecoverySymbol, n)
		for i := range p.Symbols {
			p.Symbols[i] = decodeRecoverySymbol(d, a, target)
		}
	}
	if err := d.Finish(); err != nil {
		return nil, malformed("InconsistencyProof", err)
	}
	return p, nil
}
