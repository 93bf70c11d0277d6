package cli

import (
	"context"
	"fmt"
	"math/big"
	"strings"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/client"
)

// Walrus's commands on blob objects other than store, read, delete and extend: attributes,
// burning, sharing, and the blob ID conversion.

func convertBlobIDCommand() command {
	return command{name: "convert-blob-id", summary: "convert a blob ID in decimal (a little-endian 256-bit number) to its base64 form", run: runConvertBlobID}
}

func getBlobAttributeCommand() command {
	return command{name: "get-blob-attribute", summary: "the attributes of a blob object: get-blob-attribute OBJECT_ID", run: runGetBlobAttribute}
}

func setBlobAttributeCommand() command {
	return command{name: "set-blob-attribute", summary: "set attributes of a blob object: set-blob-attribute OBJECT_ID --attr KEY VALUE...", run: runSetBlobAttribute}
}

func removeBlobAttributeFieldsCommand() command {
	return command{name: "remove-blob-attribute-fields", summary: "remove attributes of a blob object: remove-blob-attribute-fields OBJECT_ID --keys KEY...", run: runRemoveBlobAttributeFields}
}

func removeBlobAttributeCommand() command {
	return command{name: "remove-blob-attribute", summary: "remove every attribute of a blob object: remove-blob-attribute OBJECT_ID", run: runRemoveBlobAttribute}
}

func burnBlobsCommand() command {
	return command{name: "burn-blobs", summary: "give up blob objects without deleting the blobs: burn-blobs --object-ids ID... | --all | --all-expired [--yes]", run: runBurnBlobs}
}

func shareCommand() command {
	return command{name: "share", summary: "share a permanent blob object so that anyone can fund and extend it: share --blob-obj-id ID [--amount N]", run: runShare}
}

func fundSharedBlobCommand() command {
	return command{name: "fund-shared-blob", summary: "fund a shared blob object: fund-shared-blob --shared-blob-obj-id ID --amount N", run: runFundSharedBlob}
}

// maxU256 bounds a decimal blob ID.
var maxU256 = new(big.Int).Lsh(big.NewInt(1), 256)

// blobIDFromDecimal converts Walrus's decimal form of a blob ID (the 32 bytes read as a
// little-endian unsigned integer, as Sui events print it).
func blobIDFromDecimal(s string) (blob.ID, error) {
	n, ok := new(big.Int).SetString(s, 10)
	if !ok || n.Sign() < 0 || n.Cmp(maxU256) >= 0 {
		return blob.ID{}, fmt.Errorf("%q is not a decimal number below 2^256", s)
	}
	be := n.FillBytes(make([]byte, 32))
	var id blob.ID
	for i := range id {
		id[i] = be[31-i]
	}
	return id, nil
}

func runConvertBlobID(_ context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "convert-blob-id")
	cf := addClientFlags(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("usage: floe convert-blob-id DECIMAL [--json]")
	}
	id, err := blobIDFromDecimal(pos[0])
	if err != nil {
		return usagef("%v", err)
	}
	if *cf.asJSON {
		return printJSON(e.stdout, id.String())
	}
	fmt.Fprintf(e.stdout, "Floe blob ID: %s\n", id)
	return nil
}

// objectArg parses the blob object ID positional argument of the attribute commands.
func objectArg(pos []string, usage string) (client.ObjectID, error) {
	if len(pos) != 1 {
		return client.ObjectID{}, usagef("usage: %s", usage)
	}
	id, err := client.ParseObjectID(pos[0])
	if err != nil {
		return client.ObjectID{}, usagef("object ID %q: %v", pos[0], err)
	}
	return id, nil
}

func runGetBlobAttribute(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "get-blob-attribute")
	cf := addClientFlags(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	oid, err := objectArg(pos, "floe get-blob-attribute OBJECT_ID [--json]")
	if err != nil {
		return err
	}
	c, err := openClient(ctx, e, cf)
	if err != nil {
		return err
	}
	defer c.Close()
	attrs, err := c.Attributes(ctx, oid)
	if err != nil {
		return err
	}
	a := walrusAttribute(attrs)
	if *cf.asJSON {
		return printJSON(e.stdout, getAttributeOutput{Attribute: a})
	}
	if a == nil {
		fmt.Fprintln(e.stdout, "No attribute found")
		return nil
	}
	fmt.Fprintln(e.stdout, "\nAttribute")
	for _, kv := range a.Metadata.Contents {
		fmt.Fprintf(e.stdout, "%s: %s\n", kv.Key, kv.Value)
	}
	return nil
}

func runSetBlobAttribute(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "set-blob-attribute")
	cf := addClientFlags(fs)
	attrs := pairVar(fs, "attr", "KEY VALUE: an attribute to set (repeatable)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	oid, err := objectArg(pos, "floe set-blob-attribute OBJECT_ID --attr KEY VALUE [--attr KEY VALUE]...")
	if err != nil {
		return err
	}
	if len(*attrs) == 0 {
		return usagef("give at least one --attr KEY VALUE")
	}
	set := map[string]string{}
	for i := 0; i+1 < len(*attrs); i += 2 {
		k, v := (*attrs)[i], (*attrs)[i+1]
		if k == "" || len(k) > client.MaxAttributeKeyLen || len(v) > client.MaxAttributeValLen {
			return usagef("attribute %q: keys have 1 to %d bytes, values at most %d", k, client.MaxAttributeKeyLen, client.MaxAttributeValLen)
		}
		set[k] = v
	}
	c, err := openClient(ctx, e, cf)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetAttributes(ctx, oid, set, nil); err != nil {
		return err
	}
	if !*cf.asJSON {
		fmt.Fprintf(e.stdout, "Success: Successfully added attribute for blob object %s\n", oid)
	}
	return nil
}

func runRemoveBlobAttributeFields(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "remove-blob-attribute-fields")
	cf := addClientFlags(fs)
	keys := listVar(fs, "the attribute keys to remove (each a separate argument; commas are part of a key)", false, "keys")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	oid, err := objectArg(pos, "floe remove-blob-attribute-fields OBJECT_ID --keys KEY...")
	if err != nil {
		return err
	}
	if len(*keys) == 0 {
		return usagef("give the keys to remove: --keys KEY...")
	}
	c, err := openClient(ctx, e, cf)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.RemoveAttributes(ctx, oid, *keys); err != nil {
		return err
	}
	if !*cf.asJSON {
		fmt.Fprintf(e.stdout, "Success: Successfully removed attribute for blob object %s\n", oid)
	}
	return nil
}

func runRemoveBlobAttribute(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "remove-blob-attribute")
	cf := addClientFlags(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	oid, err := objectArg(pos, "floe remove-blob-attribute OBJECT_ID")
	if err != nil {
		return err
	}
	c, err := openClient(ctx, e, cf)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.RemoveAllAttributes(ctx, oid); err != nil {
		return err
	}
	if !*cf.asJSON {
		fmt.Fprintf(e.stdout, "Success: Successfully removed attribute for blob object %s\n", oid)
	}
	return nil
}

// burnOutput is `burn-blobs --json` (Walrus prints a sentence even in JSON mode).
type burnOutput struct {
	BurnedObjectIDs []string `json:"burnedObjectIds"`
}

func runBurnBlobs(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "burn-blobs")
	cf := addClientFlags(fs)
	objectIDs := listVar(fs, "blob object IDs to burn", true, "object-ids", "object-id")
	all := fs.Bool("all", false, "burn every blob object the wallet owns")
	allExpired := fs.Bool("all-expired", false, "burn every expired blob object the wallet owns")
	yes := fs.Bool("yes", false, "burn without asking for confirmation")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	n := 0
	for _, set := range []bool{len(*objectIDs) > 0, *all, *allExpired} {
		if set {
			n++
		}
	}
	if n != 1 {
		return usagef("exactly one of --object-ids, --all or --all-expired must be given")
	}
	var ids []client.ObjectID
	for _, s := range *objectIDs {
		id, err := client.ParseObjectID(s)
		if err != nil {
			return usagef("object ID %q: %v", s, err)
		}
		ids = append(ids, id)
	}
	c, err := openClient(ctx, e, cf)
	if err != nil {
		return err
	}
	defer c.Close()
	if *all || *allExpired {
		owned, err := c.ListBlobs(ctx, nil)
		if err != nil {
			return err
		}
		info, err := c.Info(ctx)
		if err != nil {
			return err
		}
		for _, b := range owned {
			if *all || b.Storage.End <= info.Epoch {
				ids = append(ids, b.ID)
			}
		}
	}
	out := burnOutput{BurnedObjectIDs: []string{}}
	if len(ids) == 0 {
		if *cf.asJSON {
			return printJSON(e.stdout, out)
		}
		expired := ""
		if *allExpired {
			expired = "expired "
		}
		fmt.Fprintf(e.stdout, "The wallet does not own any %sblob objects.\n", expired)
		return nil
	}
	if !*yes && !*cf.asJSON {
		var list []string
		for _, id := range ids {
			list = append(list, id.String())
		}
		if !confirm(e, fmt.Sprintf("Warning: You are about to burn the following blob object(s):\n%s\n(%d total).\n"+
			"The blobs stay stored until they expire, but nobody can extend, delete or relabel them again.", strings.Join(list, "\n"), len(ids))) {
			fmt.Fprintln(e.stdout, "Aborting. No blobs were burned.")
			return nil
		}
	}
	for _, id := range ids {
		if err := c.Burn(ctx, id); err != nil {
			if *cf.asJSON {
				printJSON(e.stdout, out)
			}
			return fmt.Errorf("burning %s (%d burned before it): %w", id, len(out.BurnedObjectIDs), err)
		}
		out.BurnedObjectIDs = append(out.BurnedObjectIDs, id.String())
	}
	if *cf.asJSON {
		return printJSON(e.stdout, out)
	}
	fmt.Fprintln(e.stdout, "Success: The specified blob objects have been burned")
	return nil
}

func runShare(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "share")
	cf := addClientFlags(fs)
	objID := fs.String("blob-obj-id", "", "the (owned, permanent) blob object to share")
	amount := fs.Uint64("amount", 0, "fund the shared blob with this amount")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if *objID == "" {
		return usagef("usage: floe share --blob-obj-id ID [--amount N]")
	}
	oid, err := client.ParseObjectID(*objID)
	if err != nil {
		return usagef("--blob-obj-id: %v", err)
	}
	c, err := openClient(ctx, e, cf)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Share(ctx, oid, *amount); err != nil {
		return err
	}
	out := shareOutput{SharedBlobObjectID: oid.String()}
	if given(fs, "amount") {
		out.Amount = amount
	}
	if *cf.asJSON {
		return printJSON(e.stdout, out)
	}
	funded := ""
	if out.Amount != nil {
		funded = ", funded with " + humanCost(*amount)
	}
	fmt.Fprintf(e.stdout, "Success: The blob has been shared, object id: %s%s\n", oid, funded)
	return nil
}

func runFundSharedBlob(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "fund-shared-blob")
	cf := addClientFlags(fs)
	objID := fs.String("shared-blob-obj-id", "", "the shared blob object to fund")
	amount := fs.Uint64("amount", 0, "the amount to add to its funds")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if *objID == "" || *amount == 0 {
		return usagef("usage: floe fund-shared-blob --shared-blob-obj-id ID --amount N")
	}
	oid, err := client.ParseObjectID(*objID)
	if err != nil {
		return usagef("--shared-blob-obj-id: %v", err)
	}
	c, err := openClient(ctx, e, cf)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.FundShared(ctx, oid, *amount); err != nil {
		return err
	}
	if *cf.asJSON {
		return printJSON(e.stdout, fundOutput{Amount: *amount})
	}
	fmt.Fprintf(e.stdout, "Success: The blob has been funded with %s\n", humanCost(*amount))
	return nil
}
