package cpserver_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	api "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/internal/controlplane/cpserver"
	"github.com/floelabs/floe/internal/controlplane/cptest"
	"github.com/floelabs/floe/internal/controlplane/embedded"
)

func TestErrorMapping(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	nw := cptest.NewNetwork(10, 4, 1, 100, nil, time.Now())
	chain, err := embedded.Open(t.TempDir(), &embedded.Options{Genesis: nw.Genesis, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer chain.Close()
	srv := httptest.NewServer(cpserver.New(chain, quiet)) // listens on 127.0.0.1
	defer srv.Close()
	for _, tc := range []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"GET", "/v1/accounts/0x12", "", 400, "bad_request"},
		{"GET", "/v1/blobs/notablobid/status", "", 400, "bad_request"},
		{"GET", "/v1/objects/0x" + strings.Repeat("00", 32), "", 404, "not_found"},
		{"GET", "/v1/committees/7", "", 404, "not_found"},
		{"GET", "/v1/committees/x", "", 404, "not_found"},
		{"GET", "/v1/events?limit=0", "", 400, "bad_request"},
		{"GET", "/v1/events?wait=forever", "", 400, "bad_request"},
		{"GET", "/v1/cost?size=10", "", 400, "bad_request"},
		{"POST", "/v1/transactions", "{", 400, "bad_request"},
		{"POST", "/v1/transactions", `{"tx":"AQID"}`, 400, "invalid_tx"},
		{"GET", "/v1/committees/current", "", 200, ""},
		{"GET", "/v1/events?from=0&limit=2", "", 200, ""},
		{"GET", "/v1/nodes", "", 200, ""},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: status %d, want %d (%s)", tc.method, tc.path, resp.StatusCode, tc.status, b)
			continue
		}
		if tc.code != "" {
			var er api.ErrorResponse
			if json.Unmarshal(b, &er) != nil || er.Code != tc.code || er.Error == "" {
				t.Errorf("%s %s: body %s, want code %s", tc.method, tc.path, b, tc.code)
			}
		}
	}
	resp, err := http.Get(srv.URL + "/v1/events?from=0&limit=2")
	if err != nil {
		t.Fatal(err)
	}
	var page api.EventsResponse
	json.NewDecoder(resp.Body).Decode(&page)
	resp.Body.Close()
	if len(page.Events) != 2 || page.Next != 2 || page.Events[0].Seq != 0 {
		t.Fatalf("events page %+v", page)
	}
	// With no epoch change in progress the readers' committee is the current one alone.
	if resp, err = http.Get(srv.URL + "/v1/committees/read"); err != nil {
		t.Fatal(err)
	}
	var rc api.ReadCommittees
	err = json.NewDecoder(resp.Body).Decode(&rc)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || len(rc.Current.Members) != 4 || rc.State == api.EpochStateChangeSync || rc.Previous != nil {
		t.Fatalf("read committees: %d %+v %v", resp.StatusCode, rc, err)
	}
}
