package nodestore

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// EventID identifies a control-plane event: the transaction that emitted it and the event's
// global sequence number. It is what Walrus's BlobStatus reports as statusEvent
// ({"txDigest", "eventSeq"}).
type EventID struct {
	TxDigest [32]byte
	Seq      uint64
}

// Lifetime aggregates the permanent Blob objects registered (or certified) for one blob ID:
// how many there are, the latest end epoch among them and the event that set it.
type Lifetime struct {
	Count    uint32
	EndEpoch uint32
	Event    EventID
}

// live reports whether l holds an object valid in epoch.
func (l Lifetime) live(epoch uint32) bool { return l.Count > 0 && l.EndEpoch > epoch }

// add counts one more object ending at end, first seen in event ev.
func (l *Lifetime) add(end uint32, ev EventID) {
	if l.Count == 0 || end > l.EndEpoch {
		l.EndEpoch, l.Event = end, ev
	}
	l.Count++
}

// extend moves the end epoch to end if that is later.
func (l *Lifetime) extend(end uint32, ev EventID) {
	if l.Count > 0 && end > l.EndEpoch {
		l.EndEpoch, l.Event = end, ev
	}
}

// BlobInfo is the node's view of one blob ID, built from control-plane events: the permanent
// and deletable Blob objects registered and certified for it, and whether it was proven
// invalid. It is what the node answers a blob-status request from and what decides whether it
// accepts uploads for the blob and when it may delete the blob's data. The zero value is a
// blob the node knows nothing about. Change it with Apply.
type BlobInfo struct {
	// Invalid is set by an InvalidBlobID event and never cleared; InvalidEpoch and
	// InvalidEvent are those of the first such event.
	Invalid      bool
	InvalidEpoch uint32
	InvalidEvent EventID

	// Permanent aggregates the registered permanent Blob objects, PermanentCertified the
	// certified ones. Permanent objects are never deleted; they expire at their end epoch.
	Permanent          Lifetime
	PermanentCertified Lifetime

	// DeletableTotal and DeletableCertified count the registered and the certified deletable
	// Blob objects (deletions decrement them). DeletableEndEpoch and
	// DeletableCertifiedEndEpoch are the latest end epochs seen among them: once they are
	// past, the counts no longer matter.
	DeletableTotal             uint32
	DeletableCertified         uint32
	DeletableEndEpoch          uint32
	DeletableCertifiedEndEpoch uint32

	// InitialCertifiedEpoch is the epoch of the first certification, if HasInitialCertified.
	InitialCertifiedEpoch uint32
	HasInitialCertified   bool
}

// ChangeKind is the kind of a blob event.
type ChangeKind uint8

// Blob event kinds, as the control plane emits them.
const (
	// Registered: a Blob object was registered for the blob ID.
	Registered ChangeKind = iota + 1
	// Certified: a Blob object was certified.
	Certified
	// Extended: a certified Blob object's end epoch moved to EndEpoch.
	Extended
	// Deleted: a deletable Blob object was deleted (WasCertified says whether it had been
	// certified).
	Deleted
	// Invalidated: the blob ID was proven inconsistently encoded.
	Invalidated
)

func (k ChangeKind) String() string {
	switch k {
	case Registered:
		return "registered"
	case Certified:
		return "certified"
	case Extended:
		return "extended"
	case Deleted:
		return "deleted"
	case Invalidated:
		return "invalidated"
	}
	return fmt.Sprintf("ChangeKind(%d)", uint8(k))
}

// BlobChange is one blob event, in the terms BlobInfo needs. The node maps control-plane
// events onto it (this package does not import the control plane).
type BlobChange struct {
	Kind  ChangeKind
	Event EventID
	// Epoch is the epoch in which the event happened.
	Epoch uint32
	// EndEpoch is the Blob object's end epoch (exclusive): for Registered, Certified,
	// Extended and Deleted.
	EndEpoch uint32
	// Deletable says whether the Blob object is deletable.
	Deletable bool
	// WasCertified: for Deleted, whether the object had been certified.
	WasCertified bool
}

// ErrBadChange is returned by Apply for a change that contradicts the blob info (which means
// the node missed or reordered events); the info is left unchanged.
var ErrBadChange = errors.New("nodestore: blob change contradicts the blob info")

// Apply updates b with one blob event. Changes after the blob was invalidated are recorded
// too (they keep end epochs and counts right) but the blob stays invalid.
func (b *BlobInfo) Apply(c BlobChange) error {
	switch c.Kind {
	case Registered:
		if c.Deletable {
			b.DeletableTotal++
			b.DeletableEndEpoch = max(b.DeletableEndEpoch, c.EndEpoch)
		} else {
			b.Permanent.add(c.EndEpoch, c.Event)
		}
	case Certified:
		if c.Deletable {
			b.DeletableCertified++
			b.DeletableCertifiedEndEpoch = max(b.DeletableCertifiedEndEpoch, c.EndEpoch)
		} else {
			b.PermanentCertified.add(c.EndEpoch, c.Event)
		}
		if !b.HasInitialCertified || c.Epoch < b.InitialCertifiedEpoch {
			b.InitialCertifiedEpoch, b.HasInitialCertified = c.Epoch, true
		}
	case Extended:
		if c.Deletable {
			if b.DeletableTotal == 0 {
				return fmt.Errorf("%w: extension of a deletable object, none registered", ErrBadChange)
			}
			b.DeletableEndEpoch = max(b.DeletableEndEpoch, c.EndEpoch)
			if b.DeletableCertified > 0 {
				b.DeletableCertifiedEndEpoch = max(b.DeletableCertifiedEndEpoch, c.EndEpoch)
			}
		} else {
			if b.Permanent.Count == 0 {
				return fmt.Errorf("%w: extension of a permanent object, none registered", ErrBadChange)
			}
			b.Permanent.extend(c.EndEpoch, c.Event)
			b.PermanentCertified.extend(c.EndEpoch, c.Event)
		}
	case Deleted:
		if !c.Deletable {
			return fmt.Errorf("%w: deletion of a permanent object", ErrBadChange)
		}
		if b.DeletableTotal == 0 || (c.WasCertified && b.DeletableCertified == 0) {
			return fmt.Errorf("%w: deletion with %d registered, %d certified deletable objects",
				ErrBadChange, b.DeletableTotal, b.DeletableCertified)
		}
		b.DeletableTotal--
		if c.WasCertified {
			b.DeletableCertified--
		}
	case Invalidated:
		if !b.Invalid {
			b.Invalid, b.InvalidEpoch, b.InvalidEvent = true, c.Epoch, c.Event
		}
	default:
		return fmt.Errorf("%w: unknown change kind %d", ErrBadChange, uint8(c.Kind))
	}
	return nil
}

// deletableLive reports whether a registered deletable object may still be valid in epoch.
func (b *BlobInfo) deletableLive(epoch uint32) bool {
	return b.DeletableTotal > 0 && b.DeletableEndEpoch > epoch
}

func (b *BlobInfo) deletableCertifiedLive(epoch uint32) bool {
	return b.DeletableCertified > 0 && b.DeletableCertifiedEndEpoch > epoch
}

// IsRegistered reports whether a valid Blob object is registered for the blob in epoch: the
// node accepts metadata and slivers for it and keeps its data.
func (b *BlobInfo) IsRegistered(epoch uint32) bool {
	return !b.Invalid && (b.Permanent.live(epoch) || b.deletableLive(epoch))
}

// IsCertified reports whether a certified Blob object is valid for the blob in epoch.
func (b *BlobInfo) IsCertified(epoch uint32) bool {
	return !b.Invalid && (b.PermanentCertified.live(epoch) || b.deletableCertifiedLive(epoch))
}

// EndEpoch returns the latest end epoch of any Blob object ever registered for the blob.
func (b *BlobInfo) EndEpoch() uint32 {
	return max(b.Permanent.EndEpoch, b.PermanentCertified.EndEpoch, b.DeletableEndEpoch, b.DeletableCertifiedEndEpoch)
}

// StatusKind is the kind of a BlobStatus, in the precedence order readers use.
type StatusKind uint8

// Blob status kinds (Walrus's BlobStatus variants).
const (
	StatusNonexistent StatusKind = iota
	StatusDeletable
	StatusPermanent
	StatusInvalid
)

func (k StatusKind) String() string {
	switch k {
	case StatusNonexistent:
		return "nonexistent"
	case StatusDeletable:
		return "deletable"
	case StatusPermanent:
		return "permanent"
	case StatusInvalid:
		return "invalid"
	}
	return fmt.Sprintf("StatusKind(%d)", uint8(k))
}

// BlobStatus is Walrus's node-side BlobStatus (spec §5.3) in Go terms; the HTTP layer renders
// it as JSON.
type BlobStatus struct {
	Kind StatusKind
	// Permanent: the end epoch and whether it is of a certified object.
	EndEpoch  uint32
	Certified bool
	// Event is the status event (permanent) or the invalidating event (invalid).
	Event EventID
	// DeletableTotal and DeletableCertified are deletableCounts (permanent and deletable);
	// they are zero once the latest deletable object has expired.
	DeletableTotal     uint32
	DeletableCertified uint32
	// InitialCertifiedEpoch (permanent and deletable), if HasInitialCertified.
	InitialCertifiedEpoch uint32
	HasInitialCertified   bool
}

// Status returns the blob's status in epoch. Objects whose end epoch is at or before epoch
// have expired and no longer count.
func (b *BlobInfo) Status(epoch uint32) BlobStatus {
	if b.Invalid {
		return BlobStatus{Kind: StatusInvalid, Event: b.InvalidEvent}
	}
	st := BlobStatus{
		InitialCertifiedEpoch: b.InitialCertifiedEpoch,
		HasInitialCertified:   b.HasInitialCertified,
	}
	if b.deletableLive(epoch) {
		st.DeletableTotal = b.DeletableTotal
	}
	if b.deletableCertifiedLive(epoch) {
		st.DeletableCertified = b.DeletableCertified
	}
	switch {
	case b.PermanentCertified.live(epoch):
		st.Kind, st.EndEpoch, st.Certified, st.Event = StatusPermanent, b.PermanentCertified.EndEpoch, true, b.PermanentCertified.Event
	case b.Permanent.live(epoch):
		st.Kind, st.EndEpoch, st.Event = StatusPermanent, b.Permanent.EndEpoch, b.Permanent.Event
	case st.DeletableTotal > 0:
		st.Kind = StatusDeletable
	default:
		return BlobStatus{Kind: StatusNonexistent}
	}
	return st
}

// The blob-info record (key 0x02 || blob ID), version 1, little-endian, fixed length:
//
//	version u8 (= 1)
//	flags   u8: bit 0 invalid, bit 1 has initial certified epoch; other bits zero
//	invalid_epoch u32, invalid_event (tx digest [32], seq u64)   zero unless invalid
//	permanent:           count u32, end_epoch u32, event (40 bytes)
//	permanent_certified: count u32, end_epoch u32, event (40 bytes)
//	deletable_total u32, deletable_certified u32
//	deletable_end_epoch u32, deletable_certified_end_epoch u32
//	initial_certified_epoch u32   zero unless flag bit 1
//
// Fields that do not apply are written as zero and the decoder refuses them otherwise, so
// every record has exactly one encoding.
const (
	blobInfoV1      byte = 1
	flagInvalid     byte = 1 << 0
	flagInitialCert byte = 1 << 1
	eventIDLen           = 32 + 8
	lifetimeLen          = 4 + 4 + eventIDLen
	blobInfoV1Len        = 1 + 1 + 4 + eventIDLen + 2*lifetimeLen + 4*4 + 4
)

// MarshalBinary encodes b as a version-1 blob-info record.
func (b *BlobInfo) MarshalBinary() ([]byte, error) {
	c := b.canonical()
	out := make([]byte, 0, blobInfoV1Len)
	var flags byte
	if c.Invalid {
		flags |= flagInvalid
	}
	if c.HasInitialCertified {
		flags |= flagInitialCert
	}
	out = append(out, blobInfoV1, flags)
	out = binary.LittleEndian.AppendUint32(out, c.InvalidEpoch)
	out = appendEventID(out, c.InvalidEvent)
	for _, l := range [2]Lifetime{c.Permanent, c.PermanentCertified} {
		out = binary.LittleEndian.AppendUint32(out, l.Count)
		out = binary.LittleEndian.AppendUint32(out, l.EndEpoch)
		out = appendEventID(out, l.Event)
	}
	for _, v := range [...]uint32{c.DeletableTotal, c.DeletableCertified, c.DeletableEndEpoch,
		c.DeletableCertifiedEndEpoch, c.InitialCertifiedEpoch} {
		out = binary.LittleEndian.AppendUint32(out, v)
	}
	return out, nil
}

// canonical returns b with the fields that do not apply zeroed.
func (b *BlobInfo) canonical() BlobInfo {
	c := *b
	if !c.Invalid {
		c.InvalidEpoch, c.InvalidEvent = 0, EventID{}
	}
	if !c.HasInitialCertified {
		c.InitialCertifiedEpoch = 0
	}
	if c.Permanent.Count == 0 {
		c.Permanent = Lifetime{}
	}
	if c.PermanentCertified.Count == 0 {
		c.PermanentCertified = Lifetime{}
	}
	return c
}

func appendEventID(out []byte, e EventID) []byte {
	out = append(out, e.TxDigest[:]...)
	return binary.LittleEndian.AppendUint64(out, e.Seq)
}

// UnmarshalBinary decodes a blob-info record, refusing unknown versions, wrong lengths,
// unknown flags and non-canonical encodings with an error wrapping ErrCorrupt. On error b is
// unchanged.
func (b *BlobInfo) UnmarshalBinary(data []byte) error {
	if len(data) == 0 {
		return fmt.Errorf("%w: empty blob info", ErrCorrupt)
	}
	if data[0] != blobInfoV1 {
		return fmt.Errorf("%w: blob info version %d", ErrCorrupt, data[0])
	}
	if len(data) != blobInfoV1Len {
		return fmt.Errorf("%w: blob info of %d bytes, want %d", ErrCorrupt, len(data), blobInfoV1Len)
	}
	flags := data[1]
	if flags&^(flagInvalid|flagInitialCert) != 0 {
		return fmt.Errorf("%w: blob info flags %#x", ErrCorrupt, flags)
	}
	r := data[2:]
	u32 := func() uint32 { v := binary.LittleEndian.Uint32(r); r = r[4:]; return v }
	ev := func() EventID {
		var e EventID
		copy(e.TxDigest[:], r)
		e.Seq = binary.LittleEndian.Uint64(r[32:])
		r = r[eventIDLen:]
		return e
	}
	var v BlobInfo
	v.Invalid = flags&flagInvalid != 0
	v.HasInitialCertified = flags&flagInitialCert != 0
	v.InvalidEpoch = u32()
	v.InvalidEvent = ev()
	for _, l := range [2]*Lifetime{&v.Permanent, &v.PermanentCertified} {
		l.Count = u32()
		l.EndEpoch = u32()
		l.Event = ev()
	}
	v.DeletableTotal = u32()
	v.DeletableCertified = u32()
	v.DeletableEndEpoch = u32()
	v.DeletableCertifiedEndEpoch = u32()
	v.InitialCertifiedEpoch = u32()
	if v.canonical() != v {
		return fmt.Errorf("%w: blob info has values in fields that do not apply", ErrCorrupt)
	}
	*b = v
	return nil
}
