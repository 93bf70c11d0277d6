package storagenode

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/internal/controlplane/cpclient"
)

// TestRemoteEventsWait: Remote's event long-poll waits as long as its context allows (less the
// time for the answer to come back), or Poll without a deadline, so that an idle node asks the
// control plane once per poll period, not every 2 s.
func TestRemoteEventsWait(t *testing.T) {
	waits := make(chan string, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		waits <- r.URL.Query().Get("wait")
		_ = json.NewEncoder(w).Encode(cpapi.EventsResponse{Next: 7})
	}))
	defer srv.Close()
	rc := Remote{Client: cpclient.New(srv.URL, srv.Client()), Poll: 3 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	if _, err := rc.Events(ctx, 7, 10); err != nil {
		t.Fatal(err)
	}
	if w, err := time.ParseDuration(<-waits); err != nil || w < 25*time.Second || w > 30*time.Second {
		t.Fatalf("with 40 s left the long-poll waits %v (%v), want 25-30 s", w, err)
	}
	if _, err := rc.Events(context.Background(), 7, 10); err != nil {
		t.Fatal(err)
	}
	if w := <-waits; w != "3s" {
		t.Fatalf("without a deadline the long-poll waits %s, want Poll (3s)", w)
	}
}
