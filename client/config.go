package client

import (
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/floelabs/floe/internal/crypto"
)

// Config configures a Client.
type Config struct {
	// ControlPlaneURL is the base URL of the control-plane API, e.g. http://127.0.0.1:7070.
	ControlPlaneURL string
	// Wallet signs transactions (register, certify, delete, extend). It may be nil for
	// read-only use.
	Wallet *AccountKey
	// NShards, if not zero, is the number of shards the network is expected to have; New
	// fails if the control plane reports another.
	NShards int
	// Communication bounds the fan-out to storage nodes and sets retries and timeouts.
	Communication CommunicationConfig
	// Logger receives the client's logs (discarded if nil).
	Logger *slog.Logger
	// HTTPClient talks to the control plane (a default client if nil).
	HTTPClient *http.Client
	// RootCAs validates nodes whose certificate does not hold their registered network key
	// (the system pool if nil).
	RootCAs *x509.CertPool
	// SpillAbove: a read that must decode a blob larger than this many bytes keeps the
	// slivers it fetched and the rows it rebuilds in a temporary file in TempDir instead of
	// memory, so the client's memory stays bounded whatever the blob's size (default
	// DefaultSpillAbove; negative: always in memory).
	SpillAbove int64
	// TempDir is where temporary files go (default os.TempDir()).
	TempDir string
}

// DefaultSpillAbove is the default Config.SpillAbove: 64 MiB.
const DefaultSpillAbove = 64 << 20

// CommunicationConfig bounds the client's traffic to storage nodes. Zero fields take the
// defaults of DefaultCommunicationConfig, which follow Walrus's (spec §11.1) where Floe has
// the same knob.
type CommunicationConfig struct {
	// MaxConcurrentWrites is how many nodes are uploaded to at once (default: all).
	MaxConcurrentWrites int `yaml:"max_concurrent_writes"`
	// MaxConcurrentSliverReads bounds the sliver requests in flight during a read (default 64).
	MaxConcurrentSliverReads int `yaml:"max_concurrent_sliver_reads"`
	// MaxConcurrentMetadataReads bounds the metadata requests in flight (default 3).
	MaxConcurrentMetadataReads int `yaml:"max_concurrent_metadata_reads"`
	// MaxConcurrentStatusReads bounds the status requests in flight (default: all nodes).
	MaxConcurrentStatusReads int `yaml:"max_concurrent_status_reads"`
	// MaxDataInFlight bounds the sliver bytes of the uploads in flight (default 512 MiB).
	// Walrus's client uses 12.5 MB; with one 4 MiB batch per node in flight that lets only
	// three of a committee's nodes receive at a time, so Floe allows enough for every node of
	// a typical committee to receive at once (eight requests of UploadChunkBytes). It bounds
	// bandwidth, not memory: an upload body refers to the slivers where the encoding holds
	// them. Lower it on a slow uplink.
	MaxDataInFlight int64 `yaml:"max_data_in_flight"`
	// MaxNodeConnections bounds the concurrent requests to one node (default 10).
	MaxNodeConnections int `yaml:"max_node_connections"`
	// UploadChunkBytes is the most sliver bytes one batched upload request carries (default
	// 64 MiB, at most MaxDataInFlight). A node makes each request durable on its own (an
	// extent file, its fsync, a Pebble commit), so fewer, larger requests cost the nodes less:
	// on a 10-node devnet, 16 MiB instead of 4 MiB took the nodes' CPU per 256 MiB store from
	// 3.10 to 2.50 s; 64 MiB instead of 16 took whole stores from 2.56 to 2.21 CPU s, then,
	// the two devnets' roles swapped, from 2.15 to 2.10 (128 MiB: 2.39 to 2.24), six paired
	// stores each (BenchmarkStoreCPU -storecpu.compare); 16 MiB requests limited to two at a
	// time: 2.54 and 2.48, so it is the number of requests, not their concurrency.
	UploadChunkBytes int64 `yaml:"upload_chunk_bytes"`
	// RequestTimeout bounds one request to a node (default 5 minutes).
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// MinBackoff and MaxBackoff bound the exponential backoff between retries of a failed
	// request (default 1 s and 30 s); MaxRetries is how many retries a request gets (default 5).
	MinBackoff time.Duration `yaml:"min_backoff"`
	MaxBackoff time.Duration `yaml:"max_backoff"`
	MaxRetries int           `yaml:"max_retries"`
	// TailFactor and TailBase set how long a store waits for stragglers once nodes holding
	// n-f shards have confirmed: TailFactor x elapsed + TailBase (default 0.5 and 500 ms).
	TailFactor float64       `yaml:"tail_factor"`
	TailBase   time.Duration `yaml:"tail_base"`
	// OptimisticUploadMaxBytes: blobs up to this size are uploaded while the registration
	// transaction runs (nodes buffer them until they see it); larger ones after it
	// (default 4 MiB; negative disables).
	OptimisticUploadMaxBytes int64 `yaml:"optimistic_upload_max_blob_bytes"`
	// ConfirmationWait is how long a node may hold a confirmation request while it waits to
	// see the registration (default 10 s).
	ConfirmationWait time.Duration `yaml:"confirmation_wait"`
	// StatusTimeout bounds the status requests to nodes (default 5 s).
	StatusTimeout time.Duration `yaml:"status_timeout"`
	// CommitteeRefresh is how long a fetched committee is used before it is fetched again
	// (default 10 s); a committee change detected in a store refreshes it at once.
	CommitteeRefresh time.Duration `yaml:"committee_refresh"`
	// MetadataCacheEntries is how many blobs' verified metadata the client keeps, so that
	// reading a blob again fetches only its slivers (default 256; negative: none). A blob ID
	// commits to its metadata, so entries never go stale.
	MetadataCacheEntries int `yaml:"metadata_cache_entries"`
	// ReadStallTimeout is the least time a streamed read waits for the next sliver from the
	// node that holds it before it reads from the fastest nodes instead; it waits ten times
	// the median sliver time if that is longer (default 2 s).
	ReadStallTimeout time.Duration `yaml:"read_stall_timeout"`
	// HTTP2 talks HTTP/2 to the nodes, all requests to a node multiplexed on one connection.
	// The default is HTTP/1.1 over up to MaxNodeConnections connections per node: sliver
	// bodies then go between TLS and the caller's buffers without HTTP/2's framing copies and
	// flow-control windows, which makes bulk reads and uploads faster.
	HTTP2 bool `yaml:"http2"`
	// TLSOnLoopback talks TLS to nodes at loopback addresses too. By default such a node
	// (127.0.0.0/8, ::1: a devnet, or a node on the client's own machine) is reached over
	// plain HTTP: the traffic never leaves the machine, and the client verifies everything a
	// node serves anyway (metadata against the blob ID, slivers against the metadata,
	// confirmations against the node's BLS key). TLS cost a 256 MiB store on a 10-node
	// devnet about 1.1 CPU s. Nodes elsewhere always get TLS.
	TLSOnLoopback bool `yaml:"tls_on_loopback"`
	// NearReadMaxBytes: a full read of a blob up to this size may fetch any K_p primary
	// slivers from the nodes nearest the client (by measured response time) and decode the
	// rows they lack, rather than stream each systematic sliver from its holder, when that is
	// expected to be faster (default 64 MiB; negative: always stream). Such a read holds
	// the blob in memory.
	NearReadMaxBytes int64 `yaml:"near_read_max_bytes"`
}

// DefaultCommunicationConfig returns the defaults.
func DefaultCommunicationConfig() CommunicationConfig {
	return CommunicationConfig{
		MaxConcurrentSliverReads:   64,
		MaxConcurrentMetadataReads: 3,
		MaxDataInFlight:            512 << 20,
		MaxNodeConnections:         10,
		UploadChunkBytes:           64 << 20,
		RequestTimeout:             5 * time.Minute,
		MinBackoff:                 time.Second,
		MaxBackoff:                 30 * time.Second,
		MaxRetries:                 5,
		TailFactor:                 0.5,
		TailBase:                   500 * time.Millisecond,
		OptimisticUploadMaxBytes:   4 << 20,
		ConfirmationWait:           10 * time.Second,
		StatusTimeout:              5 * time.Second,
		CommitteeRefresh:           10 * time.Second,
		ReadStallTimeout:           2 * time.Second,
		MetadataCacheEntries:       256,
		NearReadMaxBytes:           64 << 20,
	}
}

// withDefaults fills the zero fields.
func (c CommunicationConfig) withDefaults() CommunicationConfig {
	d := DefaultCommunicationConfig()
	setInt := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	setInt(&c.MaxConcurrentSliverReads, d.MaxConcurrentSliverReads)
	setInt(&c.MaxConcurrentMetadataReads, d.MaxConcurrentMetadataReads)
	setInt(&c.MaxNodeConnections, d.MaxNodeConnections)
	if c.MaxRetries < 0 {
		c.MaxRetries = 0
	} else if c.MaxRetries == 0 {
		c.MaxRetries = d.MaxRetries
	}
	if c.MaxDataInFlight <= 0 {
		c.MaxDataInFlight = d.MaxDataInFlight
	}
	if c.UploadChunkBytes <= 0 {
		c.UploadChunkBytes = d.UploadChunkBytes
	}
	c.UploadChunkBytes = min(c.UploadChunkBytes, c.MaxDataInFlight)
	setDur := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	setDur(&c.RequestTimeout, d.RequestTimeout)
	setDur(&c.MinBackoff, d.MinBackoff)
	setDur(&c.MaxBackoff, d.MaxBackoff)
	setDur(&c.TailBase, d.TailBase)
	setDur(&c.ConfirmationWait, d.ConfirmationWait)
	setDur(&c.StatusTimeout, d.StatusTimeout)
	setDur(&c.CommitteeRefresh, d.CommitteeRefresh)
	setDur(&c.ReadStallTimeout, d.ReadStallTimeout)
	if c.MetadataCacheEntries == 0 {
		c.MetadataCacheEntries = d.MetadataCacheEntries
	}
	if c.TailFactor <= 0 {
		c.TailFactor = d.TailFactor
	}
	if c.OptimisticUploadMaxBytes == 0 {
		c.OptimisticUploadMaxBytes = d.OptimisticUploadMaxBytes
	}
	if c.NearReadMaxBytes == 0 {
		c.NearReadMaxBytes = d.NearReadMaxBytes
	}
	return c
}

// fileConfig is the YAML form of a Config (client_config.yaml).
type fileConfig struct {
	ControlPlaneURL string              `yaml:"control_plane_url"`
	Wallet          string              `yaml:"wallet"`
	NShards         int                 `yaml:"n_shards"`
	Communication   CommunicationConfig `yaml:"communication"`
}

// LoadConfig reads a client configuration file (client_config.yaml):
//
//	control_plane_url: http://127.0.0.1:7070
//	wallet: wallet.json          # account key file; relative to the config file's directory
//	n_shards: 1000               # optional check
//	communication:               # optional; durations as Go durations ("500ms", "30s")
//	  max_concurrent_writes: 10
//	  max_concurrent_sliver_reads: 64
//	  max_data_in_flight: 12500000
//
// The Logger and HTTP client are left nil.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("client: reading config: %w", err)
	}
	return parseConfig(b, path)
}

// parseConfig parses the YAML of a configuration read from path (relative wallet paths are
// relative to its directory).
func parseConfig(b []byte, path string) (*Config, error) {
	var fc fileConfig
	if err := yaml.Unmarshal(b, &fc); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalidConfig, path, err)
	}
	if fc.ControlPlaneURL == "" {
		return nil, fmt.Errorf("%w: %s: control_plane_url is missing", ErrInvalidConfig, path)
	}
	cfg := &Config{ControlPlaneURL: fc.ControlPlaneURL, NShards: fc.NShards, Communication: fc.Communication}
	var err error
	if fc.Wallet != "" {
		wp := fc.Wallet
		if !filepath.IsAbs(wp) {
			wp = filepath.Join(filepath.Dir(path), wp)
		}
		if cfg.Wallet, err = LoadWallet(wp); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

// walletFile is the on-disk form of an account key, as `floe wallet new` writes it.
type walletFile struct {
	Type    string  `json:"type"`
	Address Address `json:"address"`
	Seed    string  `json:"seed"`
}

// SaveWallet writes k to a new account key file (mode 0600, synced), as `floe wallet new`
// does; it refuses to overwrite an existing file.
func SaveWallet(path string, k *AccountKey) error {
	b, err := json.MarshalIndent(walletFile{Type: "ed25519", Address: Address(k.Address()), Seed: hex.EncodeToString(k.Seed())}, "", "  ")
	if err != nil {
		return fmt.Errorf("client: wallet: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("client: writing wallet: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("client: writing wallet %s: %w", path, err)
	}
	return nil
}

// LoadWallet reads an account key file ({"type": "ed25519", "address": "0x…", "seed": hex}).
func LoadWallet(path string) (*AccountKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("client: reading wallet: %w", err)
	}
	var wf walletFile
	if err := json.Unmarshal(b, &wf); err != nil {
		return nil, fmt.Errorf("%w: wallet %s: %w", ErrInvalidConfig, path, err)
	}
	if wf.Type != "" && wf.Type != "ed25519" {
		return nil, fmt.Errorf("%w: wallet %s: key type %q", ErrInvalidConfig, path, wf.Type)
	}
	seed, err := hex.DecodeString(wf.Seed)
	if err != nil {
		return nil, fmt.Errorf("%w: wallet %s: %w", ErrInvalidConfig, path, err)
	}
	k, err := crypto.AccountKeyFromSeed(seed)
	if err != nil {
		return nil, fmt.Errorf("%w: wallet %s: %w", ErrInvalidConfig, path, err)
	}
	if Address(k.Address()) != wf.Address {
		return nil, fmt.Errorf("%w: wallet %s: the seed does not give the recorded address", ErrInvalidConfig, path)
	}
	return k, nil
}
