package cli

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// printCommitteeTables prints the current committee with each member's stake, shards and
// status, the state of the change to the current epoch, and the next committee once it is
// selected (`floe info committee`).
func printCommitteeTables(w io.Writer, d *infoData, c *infoCommitteeOutput) {
	pending := map[string]bool{}
	if ec := d.info.EpochChange; ec != nil {
		for _, id := range ec.Pending {
			pending[id.String()] = true
		}
		line := fmt.Sprintf("Epoch change: %s (%d of %d shards done", ec.State, ec.DoneShards, d.info.Params.NShards)
		if ec.DoneMs != 0 {
			line += fmt.Sprintf(", done %s after its start", time.Duration(ec.DoneMs-ec.StartMs)*time.Millisecond)
			if ec.Forced {
				line += " (forced at the deadline)"
			}
		}
		fmt.Fprintln(w, line+")")
	}
	inNext := map[string]bool{}
	for _, n := range c.NextStorageNodes {
		inNext[n.NodeID] = true
	}
	status := func(id string) string {
		s := "active"
		if d.next != nil && !inNext[id] {
			s = "leaving"
		}
		if pending[id] {
			s += ", fetching shards"
		}
		return s
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tname\tnode id\tstake\tshards\tstatus\taddress")
	for i, n := range c.CurrentStorageNodes {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", i, n.Name, n.NodeID, humanCost(n.Stake), shardRanges(n.ShardIDs), status(n.NodeID), n.NetworkAddress)
	}
	tw.Flush()
	if d.next == nil {
		fmt.Fprintf(w, "\nThe committee of epoch %d is selected at %s (or when the change to epoch %d is done, if later).\n",
			d.info.Epoch+1, time.UnixMilli(d.info.VotingEndMs).UTC().Format(time.RFC3339), d.info.Epoch)
		return
	}
	cur := map[string]bool{}
	for _, n := range c.CurrentStorageNodes {
		cur[n.NodeID] = true
	}
	fmt.Fprintf(w, "\nNext committee (epoch %d, from %s at the earliest)\n", d.next.Epoch, time.UnixMilli(d.info.NextEpochMs).UTC().Format(time.RFC3339))
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tname\tnode id\tstake\tshards\tstatus\taddress")
	for i, n := range c.NextStorageNodes {
		st := "staying"
		if !cur[n.NodeID] {
			st = "joining"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", i, n.Name, n.NodeID, humanCost(n.Stake), shardRanges(n.ShardIDs), st, n.NetworkAddress)
	}
	tw.Flush()
}
