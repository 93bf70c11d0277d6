package explorer

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"strings"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/controlplane/cpclient"
)

// csp allows the explorer's own script and stylesheet and nothing else: no inline script or
// style, no other origin, no framing.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// requestTimeout bounds the control-plane and node requests of one page.
const requestTimeout = 30 * time.Second

func (x *Explorer) routes() {
	p := x.cfg.Prefix
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+p, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, p+"/", http.StatusFound)
	})
	mux.HandleFunc("GET "+p+"/{$}", x.overview)
	mux.HandleFunc("GET "+p+"/search", x.search)
	mux.HandleFunc("GET "+p+"/blob/{id}", x.blobPage)
	mux.HandleFunc("GET "+p+"/object/{id}", x.objectPage)
	mux.HandleFunc("GET "+p+"/owner/{address}", x.ownerPage)
	mux.HandleFunc("GET "+p+"/node/{id}", x.nodePage)
	mux.HandleFunc("GET "+p+"/api/snapshot", x.apiSnapshot)
	mux.HandleFunc("GET "+p+"/api/history", x.apiHistory)
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET "+p+"/static/", http.StripPrefix(p+"/static/", http.FileServerFS(static)))
	mux.HandleFunc(p+"/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			x.fail(w, r, http.StatusMethodNotAllowed, "the explorer is read-only: "+r.Method+" is not allowed")
			return
		}
		x.fail(w, r, http.StatusNotFound, "no such page: "+r.URL.Path)
	})
	x.mux = mux
}

// ServeHTTP serves the explorer's routes with its security headers.
func (x *Explorer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	if !strings.HasPrefix(r.URL.Path, x.cfg.Prefix+"/static/") {
		h.Set("Cache-Control", "no-store")
	} else {
		h.Set("Cache-Control", "public, max-age=300")
	}
	x.mux.ServeHTTP(w, r)
}

// statusOf maps an error to its HTTP status: the one place the explorer does so.
func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrBadQuery):
		return http.StatusBadRequest
	case errors.Is(err, ErrNotFound), errors.Is(err, cpclient.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	}
	return http.StatusBadGateway
}

func (x *Explorer) fail(w http.ResponseWriter, r *http.Request, code int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	if r.Method == http.MethodHead {
		return
	}
	x.pages.render(w, "message", &page{Title: http.StatusText(code), Now: x.cfg.Now(), Snap: x.Snapshot(), Error: msg,
		Query: r.URL.Query().Get("q")})
}

func (x *Explorer) failErr(w http.ResponseWriter, r *http.Request, err error) {
	x.fail(w, r, statusOf(err), err.Error())
}

func (x *Explorer) show(w http.ResponseWriter, r *http.Request, name string, p *page) {
	p.Now = x.cfg.Now()
	if p.Snap == nil {
		p.Snap = x.Snapshot()
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := x.pages.render(w, name, p); err != nil {
		x.log.Error("explorer: rendering", "page", name, "err", err)
		http.Error(w, "rendering failed", http.StatusInternalServerError)
	}
}

func (x *Explorer) overview(w http.ResponseWriter, r *http.Request) {
	snap := x.Snapshot()
	if snap == nil {
		// Before the first sample (the daemon just started): take one now.
		x.Sample(r.Context())
		snap = x.Snapshot()
	}
	x.show(w, r, "overview", &page{Title: "Network", Refresh: int(max(x.cfg.Interval, 2*time.Second) / time.Millisecond),
		Snap: snap, Charts: charts(x.History())})
}

func (x *Explorer) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query().Get("q")
	if strings.TrimSpace(q) == "" {
		http.Redirect(w, r, x.cfg.Prefix+"/", http.StatusFound)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	path, err := x.resolve(ctx, q)
	if err != nil {
		x.failErr(w, r, err)
		return
	}
	http.Redirect(w, r, x.cfg.Prefix+path, http.StatusFound)
}

func (x *Explorer) blobPage(w http.ResponseWriter, r *http.Request) {
	id, err := blob.ParseID(r.PathValue("id"))
	if err != nil {
		x.failErr(w, r, errors.Join(ErrBadQuery, err))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	v, err := x.blobView(ctx, id)
	if err != nil {
		x.failErr(w, r, err)
		return
	}
	x.show(w, r, "blob", &page{Title: "Blob " + shortID(v.BlobID), Refresh: 15000, Query: v.BlobID, Data: v})
}

// ObjectView is what the object page shows: exactly one of its fields is set.
type ObjectView struct {
	ID string `json:"id"`
	cpapi.ObjectResponse
}

func (x *Explorer) objectPage(w http.ResponseWriter, r *http.Request) {
	id, err := cpapi.ParseObjectID(strings.ToLower(r.PathValue("id")))
	if err != nil {
		x.failErr(w, r, errors.Join(ErrBadQuery, err))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	o, err := x.cp.Object(ctx, id)
	if err != nil {
		x.failErr(w, r, err)
		return
	}
	if o.Node != nil {
		http.Redirect(w, r, x.cfg.Prefix+"/node/"+id.String(), http.StatusFound)
		return
	}
	x.show(w, r, "object", &page{Title: "Object " + shortID(id.String()), Query: id.String(), Data: &ObjectView{ID: id.String(), ObjectResponse: *o}})
}

// OwnerView is what the owner page shows.
type OwnerView struct {
	Address string         `json:"address"`
	Account *cpapi.Account `json:"account,omitempty"`
	Owned   *cpapi.Owned   `json:"owned"`
	Stakes  []cpapi.Stake  `json:"stakes"`
	Epoch   uint32         `json:"epoch"`
}

func (x *Explorer) ownerPage(w http.ResponseWriter, r *http.Request) {
	a, err := cpapi.ParseAddress(strings.ToLower(r.PathValue("address")))
	if err != nil {
		x.failErr(w, r, errors.Join(ErrBadQuery, err))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	v := &OwnerView{Address: a.String()}
	acc, err := x.cp.Account(ctx, a)
	switch {
	case err == nil:
		v.Account = acc
	case !errors.Is(err, cpclient.ErrNotFound):
		x.failErr(w, r, err)
		return
	}
	if v.Owned, err = x.cp.Owned(ctx, a); err != nil && !errors.Is(err, cpclient.ErrNotFound) {
		x.failErr(w, r, err)
		return
	}
	if v.Owned == nil {
		v.Owned = &cpapi.Owned{}
	}
	if v.Stakes, err = x.cp.Stakes(ctx, a); err != nil && !errors.Is(err, cpclient.ErrNotFound) {
		x.failErr(w, r, err)
		return
	}
	info, err := x.cp.Info(ctx)
	if err != nil {
		x.failErr(w, r, err)
		return
	}
	v.Epoch = info.Epoch
	if v.Account == nil && len(v.Owned.Blobs) == 0 && len(v.Owned.Storage) == 0 && len(v.Stakes) == 0 {
		x.failErr(w, r, errors.Join(ErrNotFound, errors.New("no object, account or owner "+a.String()+" on this network")))
		return
	}
	x.show(w, r, "owner", &page{Title: "Owner " + shortID(v.Address), Query: v.Address, Data: v})
}

// NodeView is what the node page shows.
type NodeView struct {
	Node
	Record *cpapi.Node `json:"record,omitempty"`
}

func (x *Explorer) nodePage(w http.ResponseWriter, r *http.Request) {
	id, err := cpapi.ParseObjectID(strings.ToLower(r.PathValue("id")))
	if err != nil {
		x.failErr(w, r, errors.Join(ErrBadQuery, err))
		return
	}
	snap := x.Snapshot()
	var v *NodeView
	if snap != nil {
		for _, n := range snap.Nodes {
			if n.ID == id.String() {
				v = &NodeView{Node: n}
			}
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	o, err := x.cp.Object(ctx, id)
	if err != nil && v == nil {
		x.failErr(w, r, err)
		return
	}
	if err == nil && o.Node == nil {
		http.Redirect(w, r, x.cfg.Prefix+"/object/"+id.String(), http.StatusFound)
		return
	}
	if v == nil {
		v = &NodeView{Node: Node{ID: id.String(), Name: o.Node.Name, Address: o.Node.NetworkAddress, Status: "not sampled yet",
			DiskBytes: Unknown(), RecoveryQueue: Unknown(), RecoveredSlivers: Unknown()}}
	}
	if o != nil {
		v.Record = o.Node
	}
	x.show(w, r, "node", &page{Title: "Node " + v.Name, Refresh: int(max(x.cfg.Interval, 2*time.Second) / time.Millisecond),
		Query: id.String(), Snap: snap, Data: v})
}

func (x *Explorer) apiSnapshot(w http.ResponseWriter, r *http.Request) {
	snap := x.Snapshot()
	if snap == nil {
		x.Sample(r.Context())
		snap = x.Snapshot()
	}
	writeJSON(w, snap)
}

func (x *Explorer) apiHistory(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, map[string]any{"interval": x.cfg.Interval.String(), "points": x.History()})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
