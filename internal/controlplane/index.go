package controlplane

// objIndex indexes blob objects or storage resources by owner and by end epoch, so that the
// owner's objects and the objects expiring at an epoch change are found without scanning the
// state. It is derived from the records (not hashed, not snapshotted) and brought up to date
// with the records' changes when they are committed (commitDirty), or rebuilt on Restore.
type objIndex struct {
	owner   map[ObjectID]Address
	end     map[ObjectID]uint32
	byOwner map[Address]map[ObjectID]struct{}
	byEnd   map[uint32]map[ObjectID]struct{}
}

func newObjIndex() *objIndex {
	return &objIndex{owner: map[ObjectID]Address{}, end: map[ObjectID]uint32{},
		byOwner: map[Address]map[ObjectID]struct{}{}, byEnd: map[uint32]map[ObjectID]struct{}{}}
}

func addTo[K comparable](m map[K]map[ObjectID]struct{}, k K, id ObjectID) {
	set := m[k]
	if set == nil {
		set = map[ObjectID]struct{}{}
		m[k] = set
	}
	set[id] = struct{}{}
}

func removeFrom[K comparable](m map[K]map[ObjectID]struct{}, k K, id ObjectID) {
	if set := m[k]; set != nil {
		delete(set, id)
		if len(set) == 0 {
			delete(m, k)
		}
	}
}

// set records id's current owner and end epoch; present is false for a deleted object.
func (x *objIndex) set(id ObjectID, present bool, owner Address, end uint32) {
	if o, ok := x.owner[id]; ok {
		if present && o == owner && x.end[id] == end {
			return
		}
		removeFrom(x.byOwner, o, id)
		removeFrom(x.byEnd, x.end[id], id)
		delete(x.owner, id)
		delete(x.end, id)
	}
	if !present {
		return
	}
	x.owner[id], x.end[id] = owner, end
	addTo(x.byOwner, owner, id)
	addTo(x.byEnd, end, id)
}

// ownedBy returns the IDs a owns, sorted.
func (x *objIndex) ownedBy(a Address) []ObjectID { return sortedIDs(x.byOwner[a]) }

// endingBefore returns the IDs whose end epoch is below e, sorted.
func (x *objIndex) endingBefore(e uint32) []ObjectID {
	var ids []ObjectID
	for end, set := range x.byEnd {
		if end < e {
			for id := range set {
				ids = append(ids, id)
			}
		}
	}
	sortIDs(ids)
	return ids
}

// reindex brings the indexes up to date with the record under k.
func (s *State) reindex(k leafKey) {
	var id ObjectID
	copy(id[:], k[1:])
	switch k[0] {
	case tableBlob:
		b := s.d.Blobs[id]
		if b == nil {
			s.blobIdx.set(id, false, Address{}, 0)
		} else {
			s.blobIdx.set(id, true, b.Owner, b.Storage.End)
		}
	case tableStorage:
		st := s.d.Storage[id]
		if st == nil {
			s.storageIdx.set(id, false, Address{}, 0)
		} else {
			s.storageIdx.set(id, true, st.Owner, st.End)
		}
	}
}

func (s *State) rebuildIndexes() {
	s.blobIdx, s.storageIdx = newObjIndex(), newObjIndex()
	for id, b := range s.d.Blobs {
		s.blobIdx.set(id, true, b.Owner, b.Storage.End)
	}
	for id, st := range s.d.Storage {
		s.storageIdx.set(id, true, st.Owner, st.End)
	}
}
