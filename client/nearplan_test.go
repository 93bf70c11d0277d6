package client

import (
	"fmt"
	"testing"
	"time"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/nodeclient"
	"github.com/floelabs/floe/internal/nodetls"
)

// planView is a committee of 6 nodes x 10 shards (n = 60, K_p = 22) whose nodes' response
// times are rtts (0: never measured), and the metadata of a size-byte blob.
func planView(t *testing.T, c *Client, rtts []time.Duration, size int) (*committeeView, *blob.MetadataWithID) {
	t.Helper()
	const n = 60
	enc, err := c.pool.Encoder(n)
	if err != nil {
		t.Fatal(err)
	}
	cm := &Committee{NShards: n}
	v := &committeeView{c: cm, enc: enc, params: enc.Params()}
	for i, rtt := range rtts {
		key, err := nodetls.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := nodetls.PublicKeyBytes(&key.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		m := Member{Name: fmt.Sprint("node-", i), NetworkAddress: fmt.Sprintf("127.0.0.1:%d", 1000+i), NetworkPublicKey: pub}
		for s := range 10 {
			m.Shards = append(m.Shards, uint16(i*10+s))
		}
		cm.Members = append(cm.Members, m)
		nc, err := c.pool.Client(nodeclient.Node{Name: m.Name, Address: m.NetworkAddress, NetworkKey: pub})
		if err != nil {
			t.Fatal(err)
		}
		if rtt > 0 {
			nc.Latency().Observe(rtt, true)
		}
		v.nodes = append(v.nodes, nc)
		v.weights = append(v.weights, 10)
	}
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 31)
	}
	commit, err := enc.Commit(data)
	if err != nil {
		t.Fatal(err)
	}
	return v, blob.NewMetadata(commit)
}

func planClient(comm CommunicationConfig) *Client {
	comm = comm.withDefaults()
	return &Client{comm: comm, pool: nodeclient.NewPool(nodeclient.Options{MaxConnsPerNode: comm.MaxNodeConnections})}
}

// nearPlan decodes from the nearest nodes when far ones hold systematic slivers and the
// decode costs less than their round trips, and streams otherwise.
func TestNearPlan(t *testing.T) {
	ms := time.Millisecond
	far := []time.Duration{2 * ms, 2 * ms, 2 * ms, 300 * ms, 300 * ms, 300 * ms}
	t.Run("far holders", func(t *testing.T) {
		c := planClient(CommunicationConfig{})
		v, md := planView(t, c, far, 64<<10)
		p := c.nearPlan(v, md)
		if p.want == nil {
			t.Fatalf("streams: estimate %v", p.stream)
		}
		for i := 3; i < 6; i++ {
			for _, sh := range v.c.Members[i].Shards {
				if pi := blob.PairIndex(md.ID, 60, int(sh)); p.want[pi] {
					t.Errorf("the plan fetches sliver %d of far node %d", pi, i)
				}
			}
		}
		if p.nodes != 3 || p.decode >= p.stream {
			t.Errorf("plan over %d nodes, estimate %v vs stream %v", p.nodes, p.decode, p.stream)
		}
	})
	t.Run("all near", func(t *testing.T) {
		c := planClient(CommunicationConfig{})
		v, md := planView(t, c, []time.Duration{2 * ms, 2 * ms, 2 * ms, 3 * ms, 3 * ms, 3 * ms}, 64<<10)
		if p := c.nearPlan(v, md); p.want != nil {
			t.Errorf("decodes from %d nodes with nothing far: %v vs %v", p.nodes, p.decode, p.stream)
		}
	})
	t.Run("unmeasured holder", func(t *testing.T) {
		c := planClient(CommunicationConfig{})
		rtts := append([]time.Duration(nil), far...)
		rtts[5] = 0
		v, md := planView(t, c, rtts, 64<<10)
		if p := c.nearPlan(v, md); p.want != nil && p.nodes > 0 {
			// node 5 holds systematic slivers unless the blob's pair order says otherwise
			sys := 0
			for _, sh := range v.c.Members[5].Shards {
				if blob.PairIndex(md.ID, 60, int(sh)) < v.params.PrimarySource {
					sys++
				}
			}
			if sys > 0 {
				t.Errorf("decodes while a holder of %d systematic slivers is unmeasured", sys)
			}
		}
	})
	t.Run("decoding too dear", func(t *testing.T) {
		c := planClient(CommunicationConfig{})
		c.decodes.observe(1, time.Second) // a second per byte
		v, md := planView(t, c, far, 64<<10)
		if p := c.nearPlan(v, md); p.want != nil {
			t.Errorf("decodes at a second per byte: %v vs %v", p.decode, p.stream)
		}
	})
	t.Run("disabled or too large", func(t *testing.T) {
		c := planClient(CommunicationConfig{NearReadMaxBytes: -1})
		v, md := planView(t, c, far, 64<<10)
		if p := c.nearPlan(v, md); p.want != nil {
			t.Error("decodes with NearReadMaxBytes < 0")
		}
		c = planClient(CommunicationConfig{NearReadMaxBytes: 32 << 10})
		v, md = planView(t, c, far, 64<<10)
		if p := c.nearPlan(v, md); p.want != nil {
			t.Error("decodes a blob over NearReadMaxBytes")
		}
	})
}
