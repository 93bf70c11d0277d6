package daemon

import (
	"testing"

	"github.com/floelabs/floe/client"
	"github.com/floelabs/floe/internal/crypto"
)

// The SDK adapter passes every publisher parameter and read check to the SDK's options:
// reuse_resources=true is the SDK's default (reuse), its absence IgnoreResources; the
// consistency flags become the SDK's ConsistencyCheck.
func TestSDKOptions(t *testing.T) {
	to := crypto.Address{7}
	for _, tc := range []struct {
		p    StoreParams
		want client.StoreOptions
	}{
		{StoreParams{Epochs: 1}, client.StoreOptions{Epochs: 1, IgnoreResources: true}},
		{StoreParams{Epochs: 3, ReuseResources: true}, client.StoreOptions{Epochs: 3}},
		{StoreParams{Epochs: 2, Permanent: true, Force: true, SendObjectTo: &to},
			client.StoreOptions{Epochs: 2, Permanent: true, Force: true, SendObjectTo: (*client.Address)(&to), IgnoreResources: true}},
	} {
		got := storeOptions(tc.p)
		if got.Epochs != tc.want.Epochs || got.Permanent != tc.want.Permanent || got.Force != tc.want.Force ||
			got.IgnoreResources != tc.want.IgnoreResources || got.SendObjectTo != tc.want.SendObjectTo {
			t.Errorf("%+v: %+v, want %+v", tc.p, got, tc.want)
		}
	}
	for _, tc := range []struct {
		p    ReadParams
		want client.ConsistencyCheck
	}{
		{ReadParams{}, client.ConsistencyDefault},
		{ReadParams{Strict: true}, client.ConsistencyStrict},
		{ReadParams{Skip: true}, client.ConsistencySkip},
	} {
		if got := readOptions(tc.p); got.Consistency != tc.want {
			t.Errorf("%+v: %v, want %v", tc.p, got.Consistency, tc.want)
		}
	}
}
