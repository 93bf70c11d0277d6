package redstuff_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/rs16"
	"github.com/floelabs/floe/redstuff"
)

// vector is one row of testdata/walrus-rs2-public.jsonl, computed by Walrus's own encoder
// (copied from shared/vectors; see its README).
type vector struct {
	Case             string `json:"case"`
	Gen              string `json:"gen"`
	Seed             uint64 `json:"seed"`
	Len              int    `json:"len"`
	NShards          int    `json:"n_shards"`
	DataSHA256       string `json:"data_sha256"`
	BlobID           string `json:"blob_id"`
	BlobIDHex        string `json:"blob_id_hex"`
	RootHashHex      string `json:"root_hash_hex"`
	UnencodedLength  uint64 `json:"unencoded_length"`
	SymbolSize       int    `json:"symbol_size"`
	NPrimarySource   int    `json:"n_primary_source_symbols"`
	NSecondarySource int    `json:"n_secondary_source_symbols"`
	PrimarySliverLen int    `json:"primary_sliver_len"`
	SecondarySliver  int    `json:"secondary_sliver_len"`
	PairHashesSHA256 string `json:"pair_hashes_sha256"`
	SliversSHA256    string `json:"slivers_sha256"`
	Error            string `json:"error"`
}

// genData is the vectors' PRNG "sha256ctr-v1": SHA-256(u64le(seed) || u64le(i)) blocks.
func genData(seed uint64, n int) []byte {
	out := make([]byte, 0, n+32)
	var in [16]byte
	binary.LittleEndian.PutUint64(in[:8], seed)
	for i := uint64(0); len(out) < n; i++ {
		binary.LittleEndian.PutUint64(in[8:], i)
		sum := sha256.Sum256(in[:])
		out = append(out, sum[:]...)
	}
	return out[:n]
}

func TestGenData(t *testing.T) {
	got := hex.EncodeToString(genData(1, 40))
	want := "4cbbd8ca5215b8d161aec181a74b694f4e24b001d5b081dc0030ed797a8973e0814dd7b9784d57c1"
	if got != want {
		t.Fatalf("genData(1, 40) = %s, want %s", got, want)
	}
}

func loadVectors(t *testing.T) []vector {
	t.Helper()
	f, err := os.Open("testdata/walrus-rs2-public.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var vs []vector
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var v vector
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(vs) < 50 {
		t.Fatalf("only %d vectors", len(vs))
	}
	return vs
}

// TestWalrusKnownAnswer is walrus-core's test_v1_blob_id_stability.
func TestWalrusKnownAnswer(t *testing.T) {
	enc, err := redstuff.New(10)
	if err != nil {
		t.Fatal(err)
	}
	c, err := enc.Commit([]byte("walrus blob id v1 regression test"))
	if err != nil {
		t.Fatal(err)
	}
	id := blob.DeriveID(blob.RS2, c.Length, c.Root)
	if got, want := id.String(), "RcU82Mwf-CFkv1LaI_2qcpANwpGUuG3TMwnVzZxD2kY"; got != want {
		t.Fatalf("blob ID %s, want %s", got, want)
	}
}

// TestWalrusVectors checks every vector with every rs16 kernel set this CPU runs (with the
// race detector on, the kernel sets other than the default one check only the vectors with
// n < 300; .ci/run checks them all without it).
func TestWalrusVectors(t *testing.T) {
	vs := loadVectors(t)
	sets := rs16.KernelSets()
	for i, ks := range sets {
		t.Run(ks, func(t *testing.T) {
			run := vs
			if raceEnabled && i < len(sets)-1 {
				run = nil
				for _, v := range vs {
					if v.NShards < 300 {
						run = append(run, v)
					}
				}
				t.Logf("race detector on: %d of %d vectors", len(run), len(vs))
			}
			checkVectors(t, run, redstuff.WithKernels(ks))
		})
	}
}

func checkVectors(t *testing.T, vs []vector, opts ...redstuff.Option) {
	for _, v := range vs {
		t.Run(v.Case, func(t *testing.T) {
			if v.Gen != "sha256ctr-v1" {
				t.Fatalf("unknown generator %q", v.Gen)
			}
			data := genData(v.Seed, v.Len)
			if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != v.DataSHA256 {
				t.Fatalf("generated data does not match data_sha256")
			}
			enc, err := redstuff.New(v.NShards, opts...)
			if err != nil {
				t.Fatal(err)
			}
			p := enc.Params()
			if v.Error != "" {
				if _, err := enc.Commit(data); !errors.Is(err, redstuff.ErrDataTooLarge) {
					t.Fatalf("Commit error %v, want ErrDataTooLarge", err)
				}
				if _, err := enc.Encode(data); !errors.Is(err, redstuff.ErrDataTooLarge) {
					t.Fatalf("Encode error %v, want ErrDataTooLarge", err)
				}
				return
			}
			if p.PrimarySource != v.NPrimarySource || p.SecondarySource != v.NSecondarySource {
				t.Fatalf("K_p, K_s = %d, %d, want %d, %d", p.PrimarySource, p.SecondarySource, v.NPrimarySource, v.NSecondarySource)
			}
			e, err := enc.Encode(data)
			if err != nil {
				t.Fatal(err)
			}
			if e.SymbolSize != v.SymbolSize {
				t.Fatalf("symbol size %d, want %d", e.SymbolSize, v.SymbolSize)
			}
			if len(e.Primary[0]) != v.PrimarySliverLen || len(e.Secondary[0]) != v.SecondarySliver {
				t.Fatalf("sliver lengths %d, %d, want %d, %d", len(e.Primary[0]), len(e.Secondary[0]), v.PrimarySliverLen, v.SecondarySliver)
			}
			if got := hex.EncodeToString(e.Root[:]); got != v.RootHashHex {
				t.Errorf("root hash %s, want %s", got, v.RootHashHex)
			}
			ph := sha256.New()
			for _, h := range e.Hashes {
				ph.Write(h.Primary[:])
				ph.Write(h.Secondary[:])
			}
			if got := hex.EncodeToString(ph.Sum(nil)); got != v.PairHashesSHA256 {
				t.Errorf("pair_hashes_sha256 %s, want %s", got, v.PairHashesSHA256)
			}
			sh := sha256.New()
			for _, s := range e.Primary {
				sh.Write(s)
			}
			for pair := range e.Primary {
				_, sec := e.Pair(pair)
				sh.Write(sec.Data)
			}
			if got := hex.EncodeToString(sh.Sum(nil)); got != v.SliversSHA256 {
				t.Errorf("slivers_sha256 %s, want %s", got, v.SliversSHA256)
			}
			id := blob.DeriveID(blob.RS2, uint64(len(data)), e.Root)
			if id.String() != v.BlobID || hex.EncodeToString(id[:]) != v.BlobIDHex {
				t.Errorf("blob ID %s, want %s", id, v.BlobID)
			}
			// Commit must agree with Encode (checked below n = 300 to keep -race runs short;
			// Commit and Encode share the expansion code).
			if v.NShards >= 300 && v.Case != "n1000-len14257792" {
				return
			}
			c, err := enc.Commit(data)
			if err != nil {
				t.Fatal(err)
			}
			if c.Root != e.Root || c.SymbolSize != e.SymbolSize {
				t.Errorf("Commit root/symbol size differ from Encode")
			}
			c, err = enc.CommitReaderAt(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			if c.Root != e.Root || c.SymbolSize != e.SymbolSize || c.Length != uint64(len(data)) {
				t.Errorf("CommitReaderAt root/symbol size/length differ from Encode")
			}
		})
	}
}
