package cli

import (
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/floelabs/floe/client"
)

func TestParseFlagsWalrusConventions(t *testing.T) {
	e := &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard}
	for _, tc := range []struct {
		args             []string
		objs, keys, attr []string
		pos              []string
		json             bool
		epochs           string
		wantErr          bool
	}{
		{args: []string{"--object-ids", "a", "b", "--json", "c"}, objs: []string{"a", "b"}, json: true, pos: []string{"c"}},
		{args: []string{"--object-ids=a,b", "--object-id", "c"}, objs: []string{"a", "b", "c"}},
		{args: []string{"--keys", "k1", "k2,with,commas", "k 3"}, keys: []string{"k1", "k2,with,commas", "k 3"}},
		{args: []string{"X", "--attr", "content-type", "text/plain", "--attr", "k", "-v"}, attr: []string{"content-type", "text/plain", "k", "-v"}, pos: []string{"X"}},
		// A blob ID starting with "-" is an argument, as a positional and as a value.
		{args: []string{"-QLsvnA7eyfi7K97GpTo5jWs2b7BmYfJbP9MqSG4mfI", "--epochs", "max"}, pos: []string{"-QLsvnA7eyfi7K97GpTo5jWs2b7BmYfJbP9MqSG4mfI"}, epochs: "max"},
		{args: []string{"--object-ids", "-QLsvnA7eyfi7K97GpTo5jWs2b7BmYfJbP9MqSG4mfI"}, objs: []string{"-QLsvnA7eyfi7K97GpTo5jWs2b7BmYfJbP9MqSG4mfI"}},
		{args: []string{"--", "--json"}, pos: []string{"--json"}},
		{args: []string{"--attr", "only-key"}, wantErr: true},
		{args: []string{"--epochs"}, wantErr: true},
		{args: []string{"--object-ids"}, wantErr: true},
		{args: []string{"--bogus"}, wantErr: true},
	} {
		fs := newFlagSet(e, "t")
		objs := listVar(fs, "", true, "object-ids", "object-id")
		keys := listVar(fs, "", false, "keys")
		attr := pairVar(fs, "attr", "")
		js := fs.Bool("json", false, "")
		epochs := fs.String("epochs", "", "")
		fs.Bool("v", false, "")
		pos, err := parseFlags(fs, tc.args)
		if (err != nil) != tc.wantErr {
			t.Errorf("%q: error %v, want error %v", tc.args, err, tc.wantErr)
			continue
		}
		if tc.wantErr {
			continue
		}
		if !reflect.DeepEqual(*objs, tc.objs) && (len(*objs) != 0 || len(tc.objs) != 0) ||
			!reflect.DeepEqual(*keys, tc.keys) && (len(*keys) != 0 || len(tc.keys) != 0) ||
			!reflect.DeepEqual(*attr, tc.attr) && (len(*attr) != 0 || len(tc.attr) != 0) ||
			!reflect.DeepEqual(pos, tc.pos) && (len(pos) != 0 || len(tc.pos) != 0) || *js != tc.json || *epochs != tc.epochs {
			t.Errorf("%q: objs %q keys %q attr %q pos %q json %v epochs %q", tc.args, *objs, *keys, *attr, pos, *js, *epochs)
		}
	}
}

func TestGlobalFlagsBeforeOrAfter(t *testing.T) {
	isolate(t)
	f := writeFile(t, "kat", []byte("walrus blob id v1 regression test"))
	for _, args := range [][]string{
		{"--json", "blob-id", "--n-shards", "10", f},
		{"blob-id", "--json", "--n-shards", "10", f},
		{"--json", "json", `{"command": {"blobId": {"file": "` + f + `", "nShards": 10}}}`},
	} {
		code, out, errs := run(t, args...)
		if code != 0 || !strings.Contains(out, `"blobId": "RcU82Mwf-CFkv1LaI_2qcpANwpGUuG3TMwnVzZxD2kY"`) || !strings.Contains(out, `"encodingType": "RS2"`) {
			t.Errorf("%q: exit %d, %q %q", args, code, out, errs)
		}
	}
	if code, _, _ := run(t, "--bogus", "blob-id", f); code != 2 {
		t.Errorf("unknown global flag: exit %d", code)
	}
	if code, out, _ := run(t, "--version"); code != 0 || !strings.HasPrefix(out, "floe ") {
		t.Errorf("--version: %d %q", code, out)
	}
	// write is store's alias: it reaches store's checks.
	if code, _, errs := run(t, "write", f); code != 2 || !strings.Contains(errs, "exactly one of --epochs") {
		t.Errorf("write without a lifetime: %d %q", code, errs)
	}
}

func TestJSONToArgv(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  bool
	}{
		{`{"config": "c.yaml", "command": {"store": {"files": ["README.md", "LICENSE"], "epochs": 5, "permanent": true, "force": false}}}`,
			[]string{"--json", "--config=c.yaml", "store", "--epochs=5", "--permanent", "--", "README.md", "LICENSE"}, false},
		{`{"command": {"store": {"files": ["a"], "epochs": "max"}}}`, []string{"--json", "store", "--epochs=max", "--", "a"}, false},
		{`{"command": {"read": {"blobId": "4BKcDC0Ih5RJ8R0tFMz3MZVNZV8b2goT6_JiEEwNHQo", "out": "blob.bin"}}}`,
			[]string{"--json", "read", "--out=blob.bin", "--", "4BKcDC0Ih5RJ8R0tFMz3MZVNZV8b2goT6_JiEEwNHQo"}, false},
		{`{"command": {"blobStatus": {"file": "f", "timeout": {"secs": 5, "nanos": 0}}}}`, []string{"--json", "blob-status", "--file=f", "--timeout=5s"}, false},
		{`{"command": {"setBlobAttribute": {"blobObjId": "0x1", "attributes": ["k1", "v1", "k2", "v2"]}}}`,
			[]string{"--json", "set-blob-attribute", "--attr", "k1", "v1", "--attr", "k2", "v2", "--", "0x1"}, false},
		{`{"command": {"delete": {"blobIds": ["a", "b"], "yes": true}}}`, []string{"--json", "delete", "--blob-ids=a", "--blob-ids=b", "--yes"}, false},
		{`{"command": {"info": {"command": "epoch"}}}`, []string{"--json", "info", "--", "epoch"}, false},
		{`{"command": {"info": {"command": {"committee": {"sortBy": "id"}}}}}`, []string{"--json", "info", "--sort-by=id", "--", "committee"}, false},
		{`{"command": {"listBlobs": {}}}`, []string{"--json", "list-blobs"}, false},
		{`{"command": {"publisher": {"bindAddress": "127.0.0.1:1", "maxBodySizeKib": 20, "nClients": 2}}}`,
			[]string{"--json", "publisher", "--bind-address=127.0.0.1:1", "--max-body-size=20", "--n-clients=2"}, false},
		{`{"command": {"store": {}, "read": {}}}`, nil, true},
		{`{"comand": {}}`, nil, true},
		{`{"command": {"json": {}}}`, nil, true},
		{`not json`, nil, true},
		{`{"command": {"store": {"files": [{"x": 1}]}}}`, nil, true},
	} {
		got, err := jsonToArgv(tc.in)
		if (err != nil) != tc.err || (!tc.err && !reflect.DeepEqual(got, tc.want)) {
			t.Errorf("%s:\n got %q %v\nwant %q", tc.in, got, err, tc.want)
		}
	}
}

func TestConfigDiscoveryAndContexts(t *testing.T) {
	isolate(t)
	home, _ := os.UserHomeDir()
	wallet := filepath.Join(home, "w.json")
	k, err := client.NewWallet()
	if err != nil {
		t.Fatal(err)
	}
	if err := client.SaveWallet(wallet, k); err != nil {
		t.Fatal(err)
	}
	xdg := filepath.Join(home, "config", "floe")
	os.MkdirAll(xdg, 0o755)
	multi := "contexts:\n  one:\n    control_plane_url: http://127.0.0.1:1\n  two:\n    control_plane_url: http://127.0.0.1:2\n    wallet: " + wallet + "\ndefault_context: one\n"
	if err := os.WriteFile(filepath.Join(xdg, "client_config.yml"), []byte(multi), 0o644); err != nil {
		t.Fatal(err)
	}
	cf := func(config, context, wallet string) clientFlags {
		return clientFlags{config: &config, context: &context, wallet: &wallet, gasBudget: new(uint64), asJSON: new(bool), verbose: new(bool)}
	}
	cfg, path, err := loadClientConfig(cf("", "", ""))
	if err != nil || path != filepath.Join(xdg, "client_config.yml") || cfg.ControlPlaneURL != "http://127.0.0.1:1" || cfg.Wallet != nil {
		t.Fatalf("default context: %v %s %+v", err, path, cfg)
	}
	cfg, _, err = loadClientConfig(cf("", "two", ""))
	if err != nil || cfg.ControlPlaneURL != "http://127.0.0.1:2" || cfg.Wallet == nil {
		t.Fatalf("context two: %v %+v", err, cfg)
	}
	if _, _, err := loadClientConfig(cf("", "three", "")); err == nil || !strings.Contains(err.Error(), "one, two") {
		t.Fatalf("unknown context: %v", err)
	}
	// ./client_config.yaml comes first; --wallet replaces the configuration's wallet.
	if err := os.WriteFile("client_config.yaml", []byte("control_plane_url: http://127.0.0.1:3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, path, err = loadClientConfig(cf("", "", wallet))
	if err != nil || path != "client_config.yaml" || cfg.ControlPlaneURL != "http://127.0.0.1:3" || cfg.Wallet == nil {
		t.Fatalf("./client_config.yaml with --wallet: %v %s %+v", err, path, cfg)
	}
	if _, _, err := loadClientConfig(cf("", "one", "")); err == nil {
		t.Fatal("a context of a single-context file was accepted")
	}
	if _, _, err := loadClientConfig(cf(filepath.Join(home, "missing.yaml"), "", "")); err == nil {
		t.Fatal("a missing --config was accepted")
	}
}

func TestLifetime(t *testing.T) {
	e := &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard}
	start := time.Date(2025, 3, 20, 12, 0, 0, 0, time.UTC)
	info := &client.Info{Epoch: 10, EpochStartMs: start.UnixMilli(), Params: client.Params{EpochDurationMs: int64(time.Hour / time.Millisecond), MaxEpochsAhead: 53}}
	now := start.Add(10 * time.Minute)
	for _, tc := range []struct {
		args []string
		want uint32
		err  bool
	}{
		{[]string{"--epochs", "5"}, 5, false},
		{[]string{"--epochs", "max"}, 53, false},
		{[]string{"--epochs", "54"}, 0, true},
		{[]string{"--epochs", "0"}, 0, true},
		{[]string{"--end-epoch", "12"}, 2, false},
		{[]string{"--end-epoch", "10"}, 0, true},
		{[]string{"--earliest-expiry-time", "2025-03-20T14:30:00Z"}, 3, false},
		{[]string{"--earliest-expiry-time", "2025-03-20 13:00:00"}, 2, false},
		{[]string{"--earliest-expiry-time", "2025-03-20T12:05:00Z"}, 0, true},
		{[]string{"--earliest-expiry-time", "tomorrow"}, 0, true},
		{[]string{"--epochs", "1", "--end-epoch", "12"}, 0, true},
		{nil, 0, true},
	} {
		fs := newFlagSet(e, "t")
		l := addLifetimeFlags(fs)
		if _, err := parseFlags(fs, tc.args); err != nil {
			t.Fatal(err)
		}
		err := l.check(fs)
		var got uint32
		if err == nil {
			got, err = l.epochsAhead(fs, info, now)
		}
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("%q: %d %v, want %d (error %v)", tc.args, got, err, tc.want, tc.err)
		}
	}
}

func TestConvertBlobID(t *testing.T) {
	// Walrus's own example pair (docs): the decimal form is the little-endian integer.
	id, err := blobIDFromDecimal("123")
	if err != nil || id.String() != "ewAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" {
		t.Fatalf("123: %s %v", id, err)
	}
	for _, bad := range []string{"-1", "x", "115792089237316195423570985008687907853269984665640564039457584007913129639936"} {
		if _, err := blobIDFromDecimal(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	max, err := blobIDFromDecimal("115792089237316195423570985008687907853269984665640564039457584007913129639935")
	if err != nil || max.String() != "__________________________________________8" {
		t.Errorf("2^256-1: %s %v", max, err)
	}
}

func TestCompletion(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish"} {
		code, out, errs := run(t, "completion", "--shell", sh)
		if code != 0 || !strings.Contains(out, "store") || !strings.Contains(out, "epochs") || !strings.Contains(out, "blob-status") {
			t.Errorf("%s: exit %d %q %.300q", sh, code, errs, out)
		}
	}
	if code, _, _ := run(t, "completion", "--shell", "tcsh"); code != 2 {
		t.Errorf("tcsh: exit %d", code)
	}
}
