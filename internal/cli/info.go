package cli

import (
	"context"
	"fmt"
	"io"
	"math/bits"
	"sort"
	"strings"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/internal/controlplane/cpclient"
	"github.com/floelabs/floe/redstuff"
)

func infoCommand() command {
	return command{name: "info", run: runInfo,
		summary: "the network's epochs, storage nodes, sizes and prices: info [all|epoch|storage|size|price|bft|coin|committee|challenges]"}
}

// The outputs of `info` and its subcommands, as Walrus's (responses.rs).

type infoEpochOutput struct {
	CurrentEpoch        uint32            `json:"currentEpoch"`
	StartOfCurrentEpoch map[string]string `json:"startOfCurrentEpoch"` // {"DateTime": ...} or {"Message": ...}
	EpochDuration       rustDuration      `json:"epochDuration"`
	MaxEpochsAhead      uint32            `json:"maxEpochsAhead"`
}

type infoStorageOutput struct {
	NShards int `json:"nShards"`
	NNodes  int `json:"nNodes"`
}

type infoSizeOutput struct {
	StorageUnitSize    uint64 `json:"storageUnitSize"`
	MaxBlobSize        uint64 `json:"maxBlobSize"`
	MaxBlobSizeInQuilt uint64 `json:"maxBlobSizeInQuilt"`
}

type exampleBlobInfo struct {
	UnencodedSize uint64 `json:"unencodedSize"`
	EncodedSize   uint64 `json:"encodedSize"`
	Price         uint64 `json:"price"`
	EncodingType  string `json:"encodingType"`
}

type encodingPriceInfo struct {
	MarginalSize  uint64            `json:"marginalSize"`
	MetadataPrice uint64            `json:"metadataPrice"`
	MarginalPrice uint64            `json:"marginalPrice"`
	ExampleBlobs  []exampleBlobInfo `json:"exampleBlobs"`
	EncodingType  string            `json:"encodingType"`
}

type infoPriceOutput struct {
	StoragePricePerUnitSize    uint64              `json:"storagePricePerUnitSize"`
	WritePricePerUnitSize      uint64              `json:"writePricePerUnitSize"`
	EncodingDependentPriceInfo []encodingPriceInfo `json:"encodingDependentPriceInfo"`
}

type votingParams struct {
	StoragePrice uint64 `json:"storage_price"`
	WritePrice   uint64 `json:"write_price"`
	NodeCapacity uint64 `json:"node_capacity"`
}

type storageNodeInfo struct {
	Name             string       `json:"name"`
	NetworkAddress   string       `json:"networkAddress"`
	PublicKey        string       `json:"publicKey"`
	NetworkPublicKey []byte       `json:"networkPublicKey"`
	NShards          int          `json:"nShards"`
	ShardIDs         []uint16     `json:"shardIds"`
	NodeID           string       `json:"nodeId"`
	Stake            uint64       `json:"stake"`
	VotingParams     votingParams `json:"votingParams"`
}

type infoCommitteeOutput struct {
	NShards                 int               `json:"nShards"`
	NPrimarySourceSymbols   int               `json:"nPrimarySourceSymbols"`
	NSecondarySourceSymbols int               `json:"nSecondarySourceSymbols"`
	MaxSliverSize           uint64            `json:"maxSliverSize"`
	MetadataStorageSize     uint64            `json:"metadataStorageSize"`
	MaxEncodedBlobSize      uint64            `json:"maxEncodedBlobSize"`
	CurrentStorageNodes     []storageNodeInfo `json:"currentStorageNodes"`
	NextStorageNodes        []storageNodeInfo `json:"nextStorageNodes"`
}

type infoBFTOutput struct {
	MaxFaultyShards  int `json:"maxFaultyShards"`
	MinCorrectShards int `json:"minCorrectShards"`
	QuorumThreshold  int `json:"quorumThreshold"`
	MinNodesAbove    int `json:"minNodesAbove"`
	ShardsAbove      int `json:"shardsAbove"`
}

type infoCoinOutput struct {
	CoinType string `json:"coinType"`
}

type infoOutput struct {
	EpochInfo     infoEpochOutput      `json:"epochInfo"`
	StorageInfo   infoStorageOutput    `json:"storageInfo"`
	SizeInfo      infoSizeOutput       `json:"sizeInfo"`
	PriceInfo     infoPriceOutput      `json:"priceInfo"`
	CommitteeInfo *infoCommitteeOutput `json:"committeeInfo,omitempty"`
	BFTInfo       *infoBFTOutput       `json:"bftInfo,omitempty"`
}

// storageUnit is the unit prices are given in (Walrus's BYTES_PER_UNIT_SIZE, 1 MiB).
const storageUnit = cpapi.MiB

// maxBlobSizeInQuilt is Walrus's BlobHeaderV1::MAX_SERIALIZED_BLOB_SIZE (a u32 length).
const maxBlobSizeInQuilt = 1<<32 - 1

// coinType names Floe's token (Walrus prints WAL's Move type).
const coinType = "FLOE"

func units(n uint64) uint64 { return (n + storageUnit - 1) / storageUnit }

// metadataLength is the metadata every shard stores for a blob: two hashes per sliver pair and
// the blob ID.
func metadataLength(p redstuff.Params) uint64 { return uint64(p.NShards)*64 + 32 }

// infoData is what the info outputs are computed from.
type infoData struct {
	info      *cpapi.Info
	committee *cpapi.Committee
	next      *cpapi.Committee // nil if not known
	nodes     map[cpapi.ObjectID]cpapi.Node
	params    redstuff.Params
	acc       *cpapi.AccountabilityReport // loaded for challenges (info_challenges.go)
}

func loadInfo(ctx context.Context, cp *cpclient.Client) (*infoData, error) {
	in, err := cp.Info(ctx)
	if err != nil {
		return nil, err
	}
	com, err := cp.CurrentCommittee(ctx)
	if err != nil {
		return nil, err
	}
	d := &infoData{info: in, committee: com, nodes: map[cpapi.ObjectID]cpapi.Node{}}
	if next, err := cp.Committee(ctx, com.Epoch+1); err == nil && len(next.Members) > 0 {
		d.next = next
	}
	nodes, err := cp.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	for _, n := range nodes {
		d.nodes[n.ID] = n
	}
	if d.params, err = redstuff.NewParams(in.Params.NShards); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *infoData) epochInfo() infoEpochOutput {
	return infoEpochOutput{CurrentEpoch: d.info.Epoch,
		StartOfCurrentEpoch: map[string]string{"DateTime": rfc3339(time.UnixMilli(d.info.EpochStartMs))},
		EpochDuration:       durationOf(time.Duration(d.info.Params.EpochDurationMs) * time.Millisecond),
		MaxEpochsAhead:      d.info.Params.MaxEpochsAhead}
}

func (d *infoData) storageInfo() infoStorageOutput {
	return infoStorageOutput{NShards: d.info.Params.NShards, NNodes: len(d.committee.Members)}
}

func (d *infoData) sizeInfo() infoSizeOutput {
	return infoSizeOutput{StorageUnitSize: storageUnit, MaxBlobSize: d.params.MaxBlobSize(), MaxBlobSizeInQuilt: maxBlobSizeInQuilt}
}

// slivers returns the encoded length of a blob without the replicated metadata.
func (d *infoData) slivers(size uint64) uint64 {
	enc, err := d.params.EncodedLength(size)
	if err != nil {
		return 0
	}
	return enc - uint64(d.params.NShards)*metadataLength(d.params)
}

func (d *infoData) priceInfo() infoPriceOutput {
	price := d.committee.StoragePrice
	p := d.params
	marginal := uint64(1 << 20)
	for marginal > p.MaxBlobSize() {
		marginal /= 4
	}
	first := uint64(1) << bits.Len64(p.MaxBlobSize()-1) / 1024
	var examples []exampleBlobInfo
	for _, size := range []uint64{first, first * 32, p.MaxBlobSize()} {
		enc, err := p.EncodedLength(size)
		if err != nil {
			continue
		}
		examples = append(examples, exampleBlobInfo{UnencodedSize: size, EncodedSize: enc, Price: units(enc) * price, EncodingType: "RS2"})
	}
	return infoPriceOutput{StoragePricePerUnitSize: price, WritePricePerUnitSize: d.committee.WritePrice,
		EncodingDependentPriceInfo: []encodingPriceInfo{{MarginalSize: marginal,
			MetadataPrice: units(uint64(p.NShards)*metadataLength(p)) * price,
			MarginalPrice: units(d.slivers(marginal)) * price, ExampleBlobs: examples, EncodingType: "RS2"}}}
}

func (d *infoData) nodeInfos(c *cpapi.Committee, sortBy string, desc bool) []storageNodeInfo {
	var out []storageNodeInfo
	if c == nil {
		return []storageNodeInfo{}
	}
	for _, m := range c.Members {
		n := d.nodes[m.NodeID]
		out = append(out, storageNodeInfo{Name: m.Name, NetworkAddress: m.NetworkAddress, PublicKey: m.BLSPublicKey.String(),
			NetworkPublicKey: m.NetworkPublicKey, NShards: len(m.Shards), ShardIDs: append([]uint16{}, m.Shards...), NodeID: m.NodeID.String(),
			Stake: m.Stake, VotingParams: votingParams{StoragePrice: n.StoragePrice, WritePrice: n.WritePrice, NodeCapacity: n.Capacity}})
	}
	key := func(s storageNodeInfo) string {
		switch sortBy {
		case "id":
			return s.NodeID
		case "url":
			return strings.ToLower(s.NetworkAddress)
		}
		return strings.ToLower(s.Name)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if desc {
			return key(out[i]) > key(out[j])
		}
		return key(out[i]) < key(out[j])
	})
	return out
}

func (d *infoData) committeeInfo(sortBy string, desc bool) *infoCommitteeOutput {
	p := d.params
	maxEnc, _ := p.EncodedLength(p.MaxBlobSize())
	return &infoCommitteeOutput{NShards: p.NShards, NPrimarySourceSymbols: p.PrimarySource, NSecondarySourceSymbols: p.SecondarySource,
		MaxSliverSize: uint64(p.SecondarySource) * redstuff.MaxSymbolSize, MetadataStorageSize: uint64(p.NShards) * metadataLength(p),
		MaxEncodedBlobSize: maxEnc, CurrentStorageNodes: d.nodeInfos(d.committee, sortBy, desc), NextStorageNodes: d.nodeInfos(d.next, sortBy, desc)}
}

func (d *infoData) bftInfo() *infoBFTOutput {
	p := d.params
	shards := make([]int, 0, len(d.committee.Members))
	for _, m := range d.committee.Members {
		shards = append(shards, len(m.Shards))
	}
	sort.Sort(sort.Reverse(sort.IntSlice(shards)))
	nodes, sum := 0, 0
	for _, s := range shards {
		if sum > p.F {
			break
		}
		nodes++
		sum += s
	}
	return &infoBFTOutput{MaxFaultyShards: p.F, MinCorrectShards: p.NShards - p.F, QuorumThreshold: 2*p.F + 1, MinNodesAbove: nodes, ShardsAbove: sum}
}

func runInfo(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "info")
	cf := addClientFlags(fs)
	url := fs.String("url", "", "control plane API URL (default: the client configuration's, else "+defaultControlPlaneURL+")")
	rpcURL := fs.String("rpc-url", "", "same as --url (Walrus's name)")
	sortBy := fs.String("sort-by", "name", "committee: sort the nodes by id, name or url")
	desc := fs.Bool("desc", false, "committee: sort in descending order")
	fs.Bool("hide-details", false, "committee: print the nodes' details in a table only")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	sub := ""
	switch len(pos) {
	case 0:
	case 1:
		sub = pos[0]
	default:
		return usagef("usage: floe info [all|epoch|storage|size|price|bft|coin|committee|challenges] [--json]")
	}
	switch *sortBy {
	case "id", "name", "url":
	default:
		return usagef("--sort-by %q: id, name or url", *sortBy)
	}
	if *url == "" {
		*url = *rpcURL
	}
	if *url == "" {
		*url = defaultControlPlaneURL
		if cfg, _, err := loadClientConfig(cf); err == nil {
			*url = cfg.ControlPlaneURL
		} else if *cf.config != "" {
			return err
		}
	}
	cp := cpclient.New(*url, nil)
	d, err := loadInfo(ctx, cp)
	if err != nil {
		return err
	}
	if sub == "challenges" {
		if d.acc, err = cp.Accountability(ctx); err != nil {
			return err
		}
	}
	var out any
	switch sub {
	case "":
		out = infoOutput{EpochInfo: d.epochInfo(), StorageInfo: d.storageInfo(), SizeInfo: d.sizeInfo(), PriceInfo: d.priceInfo()}
	case "all":
		out = infoOutput{EpochInfo: d.epochInfo(), StorageInfo: d.storageInfo(), SizeInfo: d.sizeInfo(), PriceInfo: d.priceInfo(),
			CommitteeInfo: d.committeeInfo(*sortBy, *desc), BFTInfo: d.bftInfo()}
	case "epoch":
		out = d.epochInfo()
	case "storage":
		out = d.storageInfo()
	case "size":
		out = d.sizeInfo()
	case "price":
		out = d.priceInfo()
	case "bft":
		out = d.bftInfo()
	case "coin":
		out = infoCoinOutput{CoinType: coinType}
	case "committee":
		out = d.committeeInfo(*sortBy, *desc)
	case "challenges":
		out = d.challengeInfo()
	default:
		return usagef("unknown info subcommand %q (all, epoch, storage, size, price, bft, coin, committee, challenges)", sub)
	}
	if *cf.asJSON {
		return printJSON(e.stdout, out)
	}
	printInfo(e.stdout, d, sub, *sortBy, *desc)
	return nil
}

func printInfo(w io.Writer, d *infoData, sub, sortBy string, desc bool) {
	show := func(s string) bool {
		return sub == s || sub == "all" || (sub == "" && s != "bft" && s != "committee" && s != "coin")
	}
	if sub == "" || sub == "all" {
		fmt.Fprintf(w, "Floe system information (chain %s, height %d)\n", d.info.Params.ChainID, d.info.Height)
	}
	if show("epoch") {
		start := time.UnixMilli(d.info.EpochStartMs).UTC()
		dur := time.Duration(d.info.Params.EpochDurationMs) * time.Millisecond
		fmt.Fprintf(w, "\nEpochs and storage duration\nCurrent epoch: %d\nStart time: %s\nEnd time: %s\nEpoch duration: %s\n"+
			"Blobs can be stored for at most %d epochs in the future.\n",
			d.info.Epoch, start.Format(time.RFC3339), start.Add(dur).Format(time.RFC3339), dur, d.info.Params.MaxEpochsAhead)
	}
	if show("storage") {
		fmt.Fprintf(w, "\nStorage nodes\nNumber of storage nodes: %d\nNumber of shards: %d\n", len(d.committee.Members), d.info.Params.NShards)
	}
	if show("size") {
		fmt.Fprintf(w, "\nBlob size\nMaximum blob size: %s (%d B)\nStorage unit: %s\n", humanBytes(d.params.MaxBlobSize()), d.params.MaxBlobSize(), humanBytes(storageUnit))
	}
	if show("price") {
		pi := d.priceInfo()
		fmt.Fprintf(w, "\nStorage prices per epoch\nPrice per encoded storage unit: %s\nAdditional price for each write: %s\n",
			humanCost(pi.StoragePricePerUnitSize), humanCost(pi.WritePricePerUnitSize))
		for _, ep := range pi.EncodingDependentPriceInfo {
			fmt.Fprintf(w, "Price to store metadata (%s encoding): %s\nMarginal price per additional %s (w/o metadata): %s\nTotal price for example blob sizes:\n",
				ep.EncodingType, humanCost(ep.MetadataPrice), humanBytes(ep.MarginalSize), humanCost(ep.MarginalPrice))
			for _, x := range ep.ExampleBlobs {
				fmt.Fprintf(w, "  - %s unencoded (%s encoded): %s per epoch\n", humanBytes(x.UnencodedSize), humanBytes(x.EncodedSize), humanCost(x.Price))
			}
		}
	}
	if show("coin") {
		fmt.Fprintf(w, "\nCoin type: %s\n", coinType)
	}
	if show("bft") {
		b := d.bftInfo()
		fmt.Fprintf(w, "\nBFT system information\nTolerated faults (f): %d\nQuorum threshold (2f+1): %d\nMinimum number of correct shards (n-f): %d\n"+
			"Minimum number of nodes to get above f: %d (%d shards)\n", b.MaxFaultyShards, b.QuorumThreshold, b.MinCorrectShards, b.MinNodesAbove, b.ShardsAbove)
	}
	if show("committee") {
		c := d.committeeInfo(sortBy, desc)
		fmt.Fprintf(w, "\nCommittee of epoch %d\nPrimary source symbols: %d\nSecondary source symbols: %d\nMetadata storage size: %s\nMaximum sliver size: %s\nMaximum encoded blob size: %s\n",
			d.committee.Epoch, c.NPrimarySourceSymbols, c.NSecondarySourceSymbols, humanBytes(c.MetadataStorageSize), humanBytes(c.MaxSliverSize), humanBytes(c.MaxEncodedBlobSize))
		printCommitteeTables(w, d, c)
	}
	if sub == "challenges" {
		printChallenges(w, d.challengeInfo())
	}
}

// shardRanges prints sorted shard indices as "0-3,7,9-10 (7)".
func shardRanges(s []uint16) string {
	out := ""
	for i := 0; i < len(s); {
		j := i
		for j+1 < len(s) && s[j+1] == s[j]+1 {
			j++
		}
		if out != "" {
			out += ","
		}
		if i == j {
			out += fmt.Sprint(s[i])
		} else {
			out += fmt.Sprintf("%d-%d", s[i], s[j])
		}
		i = j + 1
	}
	return fmt.Sprintf("%s (%d)", out, len(s))
}
