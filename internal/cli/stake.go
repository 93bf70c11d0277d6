package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/floelabs/floe/client"
	"github.com/floelabs/floe/internal/controlplane/cometbft"
)

// Membership commands: staking (`floe stake`, `floe withdraw-stake`) and the node operator's
// `floe node set-votes | set-commission | set-validator | info`. They print what will happen
// and when: a stake counts from the first epoch whose committee is not selected yet (the
// committee of the next epoch is selected at voting end, mid-epoch); a withdrawal returns the
// tokens at the start of the epoch after the last selected committee that counts it.

func stakeCommand() command {
	return command{name: "stake", run: runStake,
		summary: "stake tokens with a storage node: stake --node ID|NAME --amount 100 (FLOE; or 250base)"}
}

func withdrawStakeCommand() command {
	return command{name: "withdraw-stake", run: runWithdrawStake,
		summary: "withdraw stakes: withdraw-stake --stake ID | --node ID|NAME (all of the wallet's on it)"}
}

// tokenUnit is the number of base units in one FLOE.
const tokenUnit = 1_000_000_000

// parseTokens parses an amount of tokens: "1.5", "1.5 FLOE" or "1.5FLOE" (FLOE, up to nine
// decimals), or "250base" / "250 base" (base units).
func parseTokens(s string) (uint64, error) {
	t := strings.TrimSpace(s)
	lower := strings.ToLower(t)
	if v, ok := strings.CutSuffix(lower, "base"); ok {
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("amount %q: %w", s, err)
		}
		return n, nil
	}
	t = strings.TrimSpace(strings.TrimSuffix(lower, "floe"))
	r, ok := new(big.Rat).SetString(t)
	if !ok || r.Sign() < 0 || strings.ContainsAny(t, "/eE") {
		return 0, fmt.Errorf("amount %q: want FLOE like 1.5 (nine decimals at most) or base units like 250base", s)
	}
	r.Mul(r, new(big.Rat).SetInt64(tokenUnit))
	if !r.IsInt() {
		return 0, fmt.Errorf("amount %q: more than nine decimals", s)
	}
	if !r.Num().IsUint64() {
		return 0, fmt.Errorf("amount %q: too large", s)
	}
	return r.Num().Uint64(), nil
}

// parseSize parses a size in bytes with an optional unit: B, KiB, MiB, GiB, TiB, PiB (or
// KB, MB, GB, TB, PB in powers of 1000).
func parseSize(s string) (uint64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = strings.TrimSpace(t[:i]), strings.TrimSpace(t[i:])
	}
	mult := map[string]float64{"": 1, "b": 1, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40, "pib": 1 << 50,
		"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12, "pb": 1e15}[strings.ToLower(unit)]
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || mult == 0 || v < 0 || v*mult >= math.MaxUint64 {
		return 0, fmt.Errorf("size %q: want a number of bytes with an optional unit (B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)", s)
	}
	return uint64(v * mult), nil
}

// parseCommission parses a commission: "10%", "10.5%" or "1000bp" (basis points).
func parseCommission(s string) (uint16, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	var bp float64
	var err error
	switch {
	case strings.HasSuffix(t, "%"):
		bp, err = strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(t, "%")), 64)
		bp *= 100
	case strings.HasSuffix(t, "bp"):
		bp, err = strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(t, "bp")), 64)
	default:
		err = errors.New("no unit")
	}
	if err != nil || bp < 0 || bp > client.MaxCommission || bp != math.Trunc(bp) {
		return 0, fmt.Errorf("commission %q: want a percentage like 10%% or basis points like 1000bp (0..10000)", s)
	}
	return uint16(bp), nil
}

// resolveNode finds a node by ID ("0x" + 64 hex digits) or by its registered name.
func resolveNode(ctx context.Context, c *client.Client, ref string) (*client.NodeInfo, error) {
	if ref == "" {
		return nil, usagef("--node ID|NAME is required")
	}
	if id, err := client.ParseObjectID(ref); err == nil {
		return c.NodeInfo(ctx, id)
	}
	nodes, err := c.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	var found *client.NodeInfo
	for i := range nodes {
		if nodes[i].Name == ref {
			if found != nil {
				return nil, fmt.Errorf("two nodes are named %q: give the node ID", ref)
			}
			found = &nodes[i]
		}
	}
	if found == nil {
		return nil, fmt.Errorf("%w: no node ID or name %q", client.ErrNodeNotFound, ref)
	}
	return found, nil
}

// ownedNodeFlag is --node of the commands a node's owner runs.
func ownedNodeFlag(fs *flag.FlagSet) *string {
	return fs.String("node", "", "the node (ID or name); the wallet must own it")
}

// openNode connects and finds the node ref names (resolveNode); the caller closes the client.
func openNode(ctx context.Context, e *env, cf clientFlags, ref string) (*client.Client, *client.NodeInfo, error) {
	c, err := openClient(ctx, e, cf)
	if err != nil {
		return nil, nil, err
	}
	n, err := resolveNode(ctx, c, ref)
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return c, n, nil
}

// epochTimes describes when an epoch starts, from the current epoch's timing.
type epochTimes struct {
	ec       *client.EpochChange
	epoch    uint32
	duration time.Duration
	nextMs   int64
}

func loadEpochTimes(ctx context.Context, c *client.Client) (*epochTimes, error) {
	in, err := c.Info(ctx)
	if err != nil {
		return nil, err
	}
	ec, err := c.EpochChange(ctx)
	if err != nil {
		return nil, err
	}
	return &epochTimes{ec: ec, epoch: in.Epoch, duration: time.Duration(in.Params.EpochDurationMs) * time.Millisecond, nextMs: in.NextEpochMs}, nil
}

// startOf returns when epoch e starts at the earliest (epochs after the next one are assumed
// to last one epoch duration).
func (t *epochTimes) startOf(e uint32) time.Time {
	if e <= t.epoch {
		return time.Time{}
	}
	return time.UnixMilli(t.nextMs).Add(time.Duration(e-t.epoch-1) * t.duration).UTC()
}

func (t *epochTimes) when(e uint32) string {
	at := t.startOf(e)
	if at.IsZero() {
		return fmt.Sprintf("epoch %d", e)
	}
	return fmt.Sprintf("epoch %d (starts at %s at the earliest, in %s)", e, at.Format(time.RFC3339), time.Until(at).Round(time.Second))
}

// votingEnd describes when the next committee is selected.
func (t *epochTimes) votingEnd() string {
	if t.ec == nil {
		return "at the next epoch change"
	}
	if t.ec.State == client.NextParamsSelected {
		return fmt.Sprintf("already selected for epoch %d", t.epoch+1)
	}
	at := time.UnixMilli(t.ec.VotingEndMs).UTC()
	if t.ec.State == client.EpochChangeSync {
		return fmt.Sprintf("at %s or when the change to epoch %d is done, if later", at.Format(time.RFC3339), t.epoch)
	}
	return fmt.Sprintf("at %s", at.Format(time.RFC3339))
}

type stakeOutput struct {
	client.StakeResult
	Node     client.ObjectID `json:"node_id"`
	NodeName string          `json:"node_name"`
	StartsAt string          `json:"starts_at,omitempty"`
}

func runStake(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "stake")
	cf := addClientFlags(fs)
	nodeRef := fs.String("node", "", "the node to stake with: its ID or name")
	amountStr := fs.String("amount", "", "amount: FLOE (1.5, 1.5FLOE) or base units (250base)")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	amount, err := parseTokens(*amountStr)
	if err != nil || amount == 0 {
		return usagef("--amount: %v", errOr(err, "must be positive"))
	}
	c, n, err := openNode(ctx, e, cf, *nodeRef)
	if err != nil {
		return err
	}
	defer c.Close()
	t, err := loadEpochTimes(ctx, c)
	if err != nil {
		return err
	}
	r, err := c.Stake(ctx, n.ID, amount)
	if err != nil {
		return err
	}
	out := stakeOutput{StakeResult: *r, Node: n.ID, NodeName: n.Name}
	if at := t.startOf(r.ActivationEpoch); !at.IsZero() {
		out.StartsAt = at.Format(time.RFC3339)
	}
	if *cf.asJSON {
		return printJSON(e.stdout, out)
	}
	fmt.Fprintf(e.stdout, "staked %s with node %s (%s): stake %s\n", humanCost(amount), n.Name, n.ID, r.StakeID)
	fmt.Fprintf(e.stdout, "It counts from %s: the committee of that epoch is selected by stake at the voting end before it", t.when(r.ActivationEpoch))
	if r.ActivationEpoch == t.epoch+1 {
		fmt.Fprintf(e.stdout, " (%s)", t.votingEnd())
	}
	fmt.Fprintln(e.stdout, ".")
	return nil
}

func errOr(err error, msg string) error {
	if err != nil {
		return err
	}
	return errors.New(msg)
}

type withdrawOutput struct {
	Withdrawn []client.WithdrawResult `json:"withdrawn"`
}

func runWithdrawStake(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "withdraw-stake")
	cf := addClientFlags(fs)
	stakeRef := fs.String("stake", "", "the stake to withdraw (its ID)")
	nodeRef := fs.String("node", "", "withdraw every stake of the wallet on this node (ID or name)")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if (*stakeRef == "") == (*nodeRef == "") {
		return usagef("give exactly one of --stake ID or --node ID|NAME")
	}
	c, err := openClient(ctx, e, cf)
	if err != nil {
		return err
	}
	defer c.Close()
	t, err := loadEpochTimes(ctx, c)
	if err != nil {
		return err
	}
	var out withdrawOutput
	if *stakeRef != "" {
		id, err := client.ParseObjectID(*stakeRef)
		if err != nil {
			return usagef("--stake: %v", err)
		}
		r, err := c.WithdrawStake(ctx, id)
		if err != nil {
			return err
		}
		out.Withdrawn = append(out.Withdrawn, *r)
	} else {
		n, err := resolveNode(ctx, c, *nodeRef)
		if err != nil {
			return err
		}
		rs, err := c.WithdrawNodeStakes(ctx, n.ID)
		out.Withdrawn = rs
		if err != nil {
			return err
		}
		if len(rs) == 0 {
			return fmt.Errorf("the wallet has no stake on node %s (%s) left to withdraw", n.Name, n.ID)
		}
	}
	if *cf.asJSON {
		return printJSON(e.stdout, out)
	}
	for _, r := range out.Withdrawn {
		if r.Returned {
			fmt.Fprintf(e.stdout, "stake %s: %s returned at once (no selected committee counted it)\n", r.StakeID, humanCost(r.Amount))
			continue
		}
		fmt.Fprintf(e.stdout, "stake %s: %s counts until the end of epoch %d and returns at the start of %s\n",
			r.StakeID, humanCost(r.Amount), r.ReturnEpoch-1, t.when(r.ReturnEpoch))
	}
	return nil
}

// runNodeSetVotes is `floe node set-votes`.
func runNodeSetVotes(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "node set-votes")
	cf := addClientFlags(fs)
	nodeRef := ownedNodeFlag(fs)
	sp := fs.String("storage-price", "", "storage price vote per MiB of encoded size and epoch: FLOE or base units (default: unchanged)")
	wp := fs.String("write-price", "", "write price vote per MiB of encoded size: FLOE or base units (default: unchanged)")
	capStr := fs.String("capacity", "", "capacity vote: bytes with a unit, like 2TiB (default: unchanged)")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if *sp == "" && *wp == "" && *capStr == "" {
		return usagef("give at least one of --storage-price, --write-price, --capacity")
	}
	c, n, err := openNode(ctx, e, cf, *nodeRef)
	if err != nil {
		return err
	}
	defer c.Close()
	v := n.Votes
	if *sp != "" {
		if v.StoragePrice, err = parseTokens(*sp); err != nil {
			return usagef("--storage-price: %v", err)
		}
	}
	if *wp != "" {
		if v.WritePrice, err = parseTokens(*wp); err != nil {
			return usagef("--write-price: %v", err)
		}
	}
	if *capStr != "" {
		if v.Capacity, err = parseSize(*capStr); err != nil {
			return usagef("--capacity: %v", err)
		}
	}
	if err := c.SetVotes(ctx, n.ID, v); err != nil {
		return err
	}
	t, err := loadEpochTimes(ctx, c)
	if err != nil {
		return err
	}
	if *cf.asJSON {
		return printJSON(e.stdout, map[string]any{"node_id": n.ID, "votes": v})
	}
	fmt.Fprintf(e.stdout, "node %s votes: storage %s per MiB-epoch, write %s per MiB, capacity %s\n", n.Name,
		humanCost(v.StoragePrice), humanCost(v.WritePrice), humanBytes(v.Capacity))
	fmt.Fprintf(e.stdout, "They count when the next committee's prices are set: %s.\n", t.votingEnd())
	return nil
}

// runNodeSetCommission is `floe node set-commission`.
func runNodeSetCommission(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "node set-commission")
	cf := addClientFlags(fs)
	nodeRef := ownedNodeFlag(fs)
	com := fs.String("commission", "", "the node's share of its rewards: 10% or 1000bp")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	bp, err := parseCommission(*com)
	if err != nil {
		return usagef("--commission: %v", err)
	}
	c, n, err := openNode(ctx, e, cf, *nodeRef)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetCommission(ctx, n.ID, bp); err != nil {
		return err
	}
	if *cf.asJSON {
		return printJSON(e.stdout, map[string]any{"node_id": n.ID, "commission_bps": bp})
	}
	fmt.Fprintf(e.stdout, "node %s commission: %s (was %s), applied to the rewards paid at the end of this epoch on\n",
		n.Name, percent(bp), percent(n.Commission))
	return nil
}

// runNodeSetValidator is `floe node set-validator`: attach the CometBFT validator key of a
// validator home to the node.
func runNodeSetValidator(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "node set-validator")
	cf := addClientFlags(fs)
	nodeRef := ownedNodeFlag(fs)
	home := fs.String("home", "", "the CometBFT validator's home directory (floe chain join or init wrote it)")
	clear := fs.Bool("clear", false, "detach the node's validator key instead")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if (*home == "") == !*clear {
		return usagef("give --home DIR or --clear")
	}
	c, n, err := openNode(ctx, e, cf, *nodeRef)
	if err != nil {
		return err
	}
	defer c.Close()
	var pub, sig []byte
	if !*clear {
		in, err := c.Info(ctx)
		if err != nil {
			return err
		}
		if pub, sig, err = cometbft.SignValidatorKey(*home, in.Params.ChainID, [32]byte(n.ID)); err != nil {
			return err
		}
	}
	if err := c.SetValidatorKey(ctx, n.ID, pub, sig); err != nil {
		return err
	}
	if *cf.asJSON {
		return printJSON(e.stdout, map[string]any{"node_id": n.ID, "validator_key": pub})
	}
	if *clear {
		fmt.Fprintf(e.stdout, "node %s: validator key detached; it leaves the validator set at the next epoch change\n", n.Name)
		return nil
	}
	fmt.Fprintf(e.stdout, "node %s: validator key %x attached. While the node is a committee member, the validator votes\n"+
		"with its shards as power from the next epoch change on (once members with validator keys hold a quorum of the shards).\n", n.Name, pub)
	return nil
}

func percent(bp uint16) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%d.%02d", bp/100, bp%100), "0"), ".") + "%"
}

// runNodeInfo is `floe node info`.
func runNodeInfo(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "node info")
	cf := addClientFlags(fs)
	nodeRef := fs.String("node", "", "the node (ID or name); all registered nodes if not given")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	c, err := openClient(ctx, e, cf)
	if err != nil {
		return err
	}
	defer c.Close()
	var nodes []client.NodeInfo
	if *nodeRef != "" {
		n, err := resolveNode(ctx, c, *nodeRef)
		if err != nil {
			return err
		}
		nodes = []client.NodeInfo{*n}
	} else if nodes, err = c.Nodes(ctx); err != nil {
		return err
	}
	t, err := loadEpochTimes(ctx, c)
	if err != nil {
		return err
	}
	var ch *client.NodeChallenges
	if *nodeRef != "" {
		if ch, err = c.NodeChallenges(ctx, nodes[0].ID); err != nil {
			return err
		}
	}
	if *cf.asJSON {
		if *nodeRef != "" {
			return printJSON(e.stdout, nodeInfoOutput{NodeInfo: nodes[0], Challenges: ch})
		}
		return printJSON(e.stdout, nodes)
	}
	if *nodeRef == "" {
		printNodeTable(e.stdout, nodes)
		return nil
	}
	n := nodes[0]
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "node\t%s (%s)\n", n.Name, n.ID)
	fmt.Fprintf(w, "status\t%s\n", describeStatus(&n, t))
	fmt.Fprintf(w, "owner\t%s\n", n.Owner)
	fmt.Fprintf(w, "address\t%s\n", n.NetworkAddress)
	fmt.Fprintf(w, "stake\t%s now, %s next epoch\n", humanCost(n.Stake), humanCost(n.NextStake))
	fmt.Fprintf(w, "shards\t%s now", shardList(n.Shards))
	if n.NextShards != nil {
		fmt.Fprintf(w, ", %s in epoch %d", shardList(n.NextShards), t.epoch+1)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "votes\tstorage %s per MiB-epoch, write %s per MiB, capacity %s\n", humanCost(n.Votes.StoragePrice), humanCost(n.Votes.WritePrice), humanBytes(n.Votes.Capacity))
	fmt.Fprintf(w, "commission\t%s\n", percent(n.Commission))
	if len(n.ValidatorKey) > 0 {
		fmt.Fprintf(w, "validator key\t%x\n", n.ValidatorKey)
	}
	for _, s := range n.Stakes {
		state := fmt.Sprintf("from epoch %d", s.ActivationEpoch)
		if s.WithdrawEpoch != 0 {
			state += fmt.Sprintf(", withdrawn: returns at epoch %d", s.WithdrawEpoch)
		}
		fmt.Fprintf(w, "stake %s\t%s by %s, %s\n", s.ID, humanCost(s.Amount), s.Owner, state)
	}
	printNodeChallenges(w, ch)
	return w.Flush()
}

// describeStatus explains a node's status with what happens next.
func describeStatus(n *client.NodeInfo, t *epochTimes) string {
	switch n.Status {
	case client.NodeActive:
		if !n.SyncDone {
			return fmt.Sprintf("active in epoch %d, fetching the shards it gained at the epoch change", t.epoch)
		}
		return fmt.Sprintf("active in epoch %d", t.epoch)
	case client.NodeJoining:
		if n.NextShards != nil {
			return fmt.Sprintf("joining: selected for %s with %d shards", t.when(t.epoch+1), len(n.NextShards))
		}
		return fmt.Sprintf("joining: staked enough to be selected %s for %s", t.votingEnd(), t.when(t.epoch+1))
	case client.NodeLeaving:
		return fmt.Sprintf("leaving: a member until the end of epoch %d", t.epoch)
	}
	return "inactive: no shards now or next epoch (stake it to join)"
}

func shardList(s []uint16) string {
	if len(s) == 0 {
		return "none"
	}
	return shardRanges(s)
}

func printNodeTable(w io.Writer, nodes []client.NodeInfo) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "name\tnode id\tstatus\tstake\tnext stake\tshards\tnext shards\taddress")
	for _, n := range nodes {
		next := "-"
		if n.NextShards != nil {
			next = fmt.Sprint(len(n.NextShards))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", n.Name, n.ID, n.Status, humanCost(n.Stake), humanCost(n.NextStake), len(n.Shards), next, n.NetworkAddress)
	}
	tw.Flush()
}
