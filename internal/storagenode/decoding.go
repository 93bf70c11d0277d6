package storagenode

import (
	"fmt"
	"net/http"
	"strconv"

	api "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/storagenode/engine"
)

// decodingSymbols serves GET .../decodingSymbols?targetSlivers=i&targetSlivers=j&targetType=T:
// the node's symbols (without proofs) towards each target sliver, as Walrus's node answers.
func (n *Node) decodingSymbols(w http.ResponseWriter, r *http.Request) error {
	id, err := pathBlobID(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	for name := range q {
		if name != api.QueryTargetSlivers && name != api.QueryTargetType {
			return fmt.Errorf("%w: unknown parameter %q", engine.ErrBadQuery, name)
		}
	}
	var targets []int
	for _, s := range q[api.QueryTargetSlivers] {
		t, err := strconv.ParseUint(s, 10, 16)
		if err != nil {
			return fmt.Errorf("%w: targetSlivers=%q", engine.ErrBadQuery, s)
		}
		targets = append(targets, int(t))
	}
	if len(targets) == 0 {
		return fmt.Errorf("%w: targetSlivers is required", engine.ErrBadQuery)
	}
	tt := q.Get(api.QueryTargetType)
	if tt == "" {
		return fmt.Errorf("%w: targetType is required", engine.ErrBadQuery)
	}
	axis, err := blob.ParseAxis(tt)
	if err != nil {
		return fmt.Errorf("%w: targetType: %w", engine.ErrBadQuery, err)
	}
	b, err := n.e.Reads.DecodingSymbols(r.Context(), id, targets, axis)
	if err != nil {
		return err
	}
	return writeBCS(w, b)
}
