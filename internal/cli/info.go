package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	api "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/client"
	"github.com/floelabs/floe/internal/controlplane/cpclient"
	"github.com/floelabs/floe/redstuff"
)

func infoCommand() command {
	return command{name: "info", summary: "epoch, committee, shards, prices and limits of the control plane", run: runInfo}
}

// infoOutput is `floe info --json`.
type infoOutput struct {
	Info          *api.Info      `json:"info"`
	Committee     *api.Committee `json:"committee,omitempty"`
	MaxBlobSize   uint64         `json:"max_blob_size"`
	QuorumShards  int            `json:"quorum_shards"`
	ValidityShard int            `json:"validity_shards"`
}

func runInfo(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "info")
	url := fs.String("url", "", "control plane API URL (default: the client config's, else "+defaultControlPlaneURL+")")
	config := fs.String("config", "", "client configuration file (default ./client_config.yaml, else the default devnet's)")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if *url == "" {
		*url = defaultControlPlaneURL
		if path, err := findClientConfig(*config); err == nil {
			cfg, err := client.LoadConfig(path)
			if err != nil {
				return err
			}
			*url = cfg.ControlPlaneURL
		} else if *config != "" {
			return err
		}
	}
	c := cpclient.New(*url, nil)
	info, err := c.Info(ctx)
	if err != nil {
		return err
	}
	out := infoOutput{Info: info}
	if com, err := c.CurrentCommittee(ctx); err == nil {
		out.Committee = com
	}
	rp, err := redstuff.NewParams(info.Params.NShards)
	if err != nil {
		return err
	}
	out.MaxBlobSize, out.QuorumShards, out.ValidityShard = rp.MaxBlobSize(), rp.Quorum(), rp.Validity()
	if *asJSON {
		return printJSON(e.stdout, out)
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	p := info.Params
	fmt.Fprintf(w, "chain\t%s\n", p.ChainID)
	fmt.Fprintf(w, "height\t%d\n", info.Height)
	fmt.Fprintf(w, "epoch\t%d (started %s, next change %s)\n", info.Epoch,
		time.UnixMilli(info.EpochStartMs).UTC().Format(time.RFC3339), time.UnixMilli(info.NextEpochMs).UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "epoch duration\t%s\n", time.Duration(p.EpochDurationMs)*time.Millisecond)
	fmt.Fprintf(w, "shards\t%d (quorum %d, validity %d)\n", p.NShards, out.QuorumShards, out.ValidityShard)
	fmt.Fprintf(w, "max epochs ahead\t%d\n", p.MaxEpochsAhead)
	fmt.Fprintf(w, "max blob size\t%d bytes\n", out.MaxBlobSize)
	fmt.Fprintf(w, "storage price\t%d per MiB of encoded size per epoch\n", info.Prices.StoragePrice)
	fmt.Fprintf(w, "write price\t%d per MiB of encoded size\n", info.Prices.WritePrice)
	fmt.Fprintf(w, "capacity\t%d bytes (%d reserved this epoch)\n", info.Prices.Capacity, info.Prices.Used)
	fmt.Fprintf(w, "registered nodes\t%d\n", info.RegisteredNode)
	fmt.Fprintf(w, "app hash\t%s\n", info.AppHash)
	if err := w.Flush(); err != nil {
		return err
	}
	if out.Committee != nil && len(out.Committee.Members) > 0 {
		fmt.Fprintf(e.stdout, "\ncommittee of epoch %d (member order):\n", out.Committee.Epoch)
		w = tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "#\tname\tnode id\tstake\tshards\taddress")
		for i, m := range out.Committee.Members {
			fmt.Fprintf(w, "%d\t%s\t%s\t%d\t%s\t%s\n", i, m.Name, m.NodeID, m.Stake, shardRanges(m.Shards), m.NetworkAddress)
		}
		return w.Flush()
	}
	return nil
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
