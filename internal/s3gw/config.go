package s3gw

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"go.yaml.in/yaml/v3"

	"github.com/floelabs/floe/client"
)

// DefaultAddr is where `floe s3` and `floe devnet` serve the S3 API.
const DefaultAddr = "127.0.0.1:31416"

// AccessKey is an S3 access key and the Floe wallet that pays for, owns and signs for
// everything stored with it.
type AccessKey struct {
	ID     string
	Secret string
	Wallet *client.AccountKey
}

// Config configures a Gateway.
type Config struct {
	// Client names the network (control plane URL, communication settings, TLS roots); its
	// Wallet and Logger are ignored: every access key brings its own wallet. Its SpillAbove
	// and TempDir also apply to request bodies: a chunk larger than SpillAbove (default 64
	// MiB) is received into a temporary file in TempDir and stored from there in bounded
	// memory (client.StoreReaderAt), as the daemon's publisher does.
	Client client.Config
	// Keys are the accepted access keys (at least one). Several keys may share a wallet;
	// each wallet has its own namespace of buckets.
	Keys []AccessKey
	// Dir holds the local index (rebuilt from the control plane when missing); empty keeps
	// it in memory.
	Dir string
	// DefaultEpochs is how many epochs a new object is stored for when neither its request
	// (header x-floe-epochs) nor its bucket (x-floe-epochs on CreateBucket) says (default 10).
	DefaultEpochs uint32
	// ChunkSize is the most bytes stored as one blob: a larger object or part is stored as
	// several chunk blobs named by a manifest (default 256 MiB).
	ChunkSize int64
	// MaxBuffered bounds the request body bytes held at once over all requests, in memory or
	// spilled to temporary files (default 1 GiB, at least ChunkSize).
	MaxBuffered int64
	// StaleReads skips the read barrier: by default every request first waits until the
	// gateway's index has applied the control plane's events up to their head at the
	// request's arrival, so that a write through any gateway is visible to the next request
	// through any other.
	StaleReads bool
	// Logger receives the gateway's logs (discarded if nil).
	Logger *slog.Logger
}

// Defaults.
const (
	defaultEpochs      = 10
	defaultChunkSize   = 256 << 20
	defaultMaxBuffered = 1 << 30
)

func (c Config) withDefaults() Config {
	if c.DefaultEpochs == 0 {
		c.DefaultEpochs = defaultEpochs
	}
	if c.ChunkSize == 0 {
		c.ChunkSize = defaultChunkSize
	}
	if c.MaxBuffered == 0 {
		c.MaxBuffered = max(defaultMaxBuffered, c.ChunkSize)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports a configuration the gateway cannot run with.
func (c Config) Validate() error {
	if c.Client.ControlPlaneURL == "" {
		return fmt.Errorf("%w: no control plane URL", ErrInvalidConfig)
	}
	if len(c.Keys) == 0 {
		return fmt.Errorf("%w: no access keys", ErrInvalidConfig)
	}
	seen := map[string]bool{}
	for _, k := range c.Keys {
		switch {
		case k.ID == "" || k.Secret == "":
			return fmt.Errorf("%w: an access key needs an ID and a secret", ErrInvalidConfig)
		case k.Wallet == nil:
			return fmt.Errorf("%w: access key %s has no wallet", ErrInvalidConfig, k.ID)
		case seen[k.ID]:
			return fmt.Errorf("%w: access key %s given twice", ErrInvalidConfig, k.ID)
		}
		seen[k.ID] = true
	}
	if c.ChunkSize < 1<<20 {
		return fmt.Errorf("%w: chunk size %d below 1 MiB", ErrInvalidConfig, c.ChunkSize)
	}
	if c.MaxBuffered < c.ChunkSize {
		return fmt.Errorf("%w: max buffered %d below the chunk size %d", ErrInvalidConfig, c.MaxBuffered, c.ChunkSize)
	}
	return nil
}

// keysFile is the YAML form of access keys (floe s3 --keys FILE):
//
//	access_keys:
//	  - access_key_id: AKIA...
//	    secret_access_key: ...
//	    wallet: s3.key        # relative to the file's directory
type keysFile struct {
	AccessKeys []struct {
		ID     string `yaml:"access_key_id"`
		Secret string `yaml:"secret_access_key"`
		Wallet string `yaml:"wallet"`
	} `yaml:"access_keys"`
}

// LoadKeys reads an access keys file and the wallets it names.
func LoadKeys(path string) ([]AccessKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("s3gw: reading keys: %w", err)
	}
	var kf keysFile
	if err := yaml.Unmarshal(b, &kf); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalidConfig, path, err)
	}
	var out []AccessKey
	for _, k := range kf.AccessKeys {
		wp := k.Wallet
		if wp == "" {
			return nil, fmt.Errorf("%w: %s: access key %s names no wallet", ErrInvalidConfig, path, k.ID)
		}
		if !filepath.IsAbs(wp) {
			wp = filepath.Join(filepath.Dir(path), wp)
		}
		w, err := client.LoadWallet(wp)
		if err != nil {
			return nil, err
		}
		out = append(out, AccessKey{ID: k.ID, Secret: k.Secret, Wallet: w})
	}
	return out, nil
}

// WriteKeys writes an access keys file (mode 0600) naming walletPath for every key.
func WriteKeys(path string, keys map[string]string, walletPath string) error {
	var kf keysFile
	for id, secret := range keys {
		kf.AccessKeys = append(kf.AccessKeys, struct {
			ID     string `yaml:"access_key_id"`
			Secret string `yaml:"secret_access_key"`
			Wallet string `yaml:"wallet"`
		}{id, secret, walletPath})
	}
	b, err := yaml.Marshal(&kf)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}
