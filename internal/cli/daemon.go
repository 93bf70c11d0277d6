package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	cpapi "github.com/floelabs/floe/api/controlplane"
	api "github.com/floelabs/floe/api/daemon"
	"github.com/floelabs/floe/client"
	"github.com/floelabs/floe/internal/controlplane/cpclient"
	"github.com/floelabs/floe/internal/daemon"
)

func publisherCommand() command {
	return command{name: "publisher", summary: "HTTP publisher: PUT /v1/blobs (Walrus's API)", run: func(ctx context.Context, e *env, args []string) error {
		return runDaemon(ctx, e, "publisher", true, false, args)
	}}
}

func aggregatorCommand() command {
	return command{name: "aggregator", summary: "HTTP aggregator: GET /v1/blobs/{id} (Walrus's API)", run: func(ctx context.Context, e *env, args []string) error {
		return runDaemon(ctx, e, "aggregator", false, true, args)
	}}
}

func daemonCommand() command {
	return command{name: "daemon", summary: "HTTP publisher and aggregator on one address", run: func(ctx context.Context, e *env, args []string) error {
		return runDaemon(ctx, e, "daemon", true, true, args)
	}}
}

// intAlias defines an int flag under several names sharing one value.
func intAlias(fs *flag.FlagSet, value int, usage string, names ...string) *int {
	p := new(int)
	for _, n := range names {
		fs.IntVar(p, n, value, usage)
	}
	return p
}

// publisherFlags are Walrus's PublisherArgs (and Floe's additions).
type publisherFlags struct {
	concurrent, buffered, nClients *int
	recvBufKiB, maxQuiltKiB        *int64
	origins, subDir                *string
	refill                         *time.Duration
	walRefill, minBalance          *uint64
	burnAfterStore                 *bool
	jwtSecret, jwtAlg              *string
	jwtExpiring                    *int64
	jwtVerify                      *bool
	jwtCacheSize                   *int
	spillAboveKiB, maxSpillKiB     *int64
}

func addPublisherFlags(fs *flag.FlagSet) publisherFlags {
	p := publisherFlags{
		concurrent: intAlias(fs, api.DefaultPublisherConcurrent, "stores run at once", "publisher-max-concurrent-requests", "max-concurrent-requests"),
		buffered: intAlias(fs, api.DefaultPublisherBuffered, "stores waiting, their bodies received, before a PUT gets 429",
			"publisher-max-buffer-size", "max-buffer-size", "max-request-buffer-size"),
		recvBufKiB: fs.Int64("publisher-max-receive-buffer", 0,
			fmt.Sprintf("bytes of PUT bodies being received at once, in KiB, at least --max-body-size (0: %d × --max-body-size)", api.DefaultReceiveBufferBodies)),
		spillAboveKiB: fs.Int64("publisher-spill-above", client.DefaultSpillAbove>>10,
			"a PUT /v1/blobs body larger than this, in KiB, is received into a temporary file (in $TMPDIR) and stored from there in bounded memory (-1: always in memory)"),
		maxSpillKiB: fs.Int64("publisher-max-spill", 0,
			"bytes of PUT bodies being spilled to temporary files at once, in KiB (0: as --publisher-max-receive-buffer; -1: no bound); beyond it a PUT gets 429"),
		maxQuiltKiB:    fs.Int64("max-quilt-body-size", api.DefaultMaxQuiltBodySize>>10, "largest PUT /v1/quilts body, in KiB"),
		origins:        fs.String("publisher-allowed-origins", "", "origins whose browser pages may call the publisher (CORS), comma-separated scheme://host[:port], or \"*\" for any; default none"),
		subDir:         fs.String("sub-wallets-dir", "", "directory of the sub-wallets stores run with, in parallel (created and funded from the main wallet; default: none, every store uses the main wallet)"),
		nClients:       fs.Int("n-clients", api.DefaultPublisherConcurrent, "sub-wallets (stores that run at once) with --sub-wallets-dir"),
		refill:         fs.Duration("refill-interval", time.Second, "how often the sub-wallets' balances are checked"),
		walRefill:      fs.Uint64("wal-refill-amount", 500_000_000, "amount a sub-wallet below --sub-wallets-min-balance receives"),
		minBalance:     fs.Uint64("sub-wallets-min-balance", 500_000_000, "balance below which a sub-wallet is refilled"),
		burnAfterStore: fs.Bool("burn-after-store", false, "burn the created blob objects (default: keep them in the main wallet); send_object_to still applies"),
		jwtSecret:      fs.String("jwt-decode-secret", "", "enables JWT authentication of stores: the key, its bytes or 0x-prefixed hex (an HMAC secret, or a public key for EdDSA, ES*, RS*, PS*)"),
		jwtAlg:         fs.String("jwt-algorithm", "HS256", "JWT algorithm: "+strings.Join(daemon.JWTAlgorithms, ", ")),
		jwtExpiring:    fs.Int64("jwt-expiring-sec", 0, "if positive, tokens need iat and exp - iat equal to this (without --jwt-decode-secret, enables authentication without signature checks)"),
		jwtVerify:      fs.Bool("jwt-verify-upload", false, "make each upload match its token's epochs/max_epochs, size/max_size and send_object_to"),
		jwtCacheSize:   fs.Int("jwt-cache-size", daemon.DefaultJWTCacheSize, "tokens remembered (by jti, until they expire) to refuse replays"),
	}
	fs.Uint64("gas-refill-amount", 0, "accepted for Walrus compatibility (Floe's control plane charges no gas)")
	fs.Bool("keep", false, "accepted for Walrus compatibility (created blob objects are kept by default)")
	fs.Duration("jwt-cache-refresh-interval", 5*time.Second, "accepted for Walrus compatibility (expired tokens are dropped when the cache is full)")
	return p
}

func runDaemon(ctx context.Context, e *env, name string, publisher, aggregator bool, args []string) error {
	fs := newFlagSet(e, name)
	cf := addClientFlags(fs)
	bind := fs.String("bind-address", api.DefaultAddr, "listen address")
	metricsAddr := fs.String("metrics-address", api.DefaultMetricsAddr, "Prometheus listen address (\"off\" to disable)")
	fs.StringVar(metricsAddr, "a", api.DefaultMetricsAddr, "short for --metrics-address")
	blocklistPath := fs.String("blocklist", "", "YAML list of blob IDs neither served nor stored (451), read again every 30 s")
	rpcURL := fs.String("rpc-url", "", "control plane URL (default: the configuration's)")
	maxBodyKiB := fs.Int64("max-body-size", api.DefaultMaxBodySize>>10, "largest blob a PUT accepts, in KiB")
	var pf publisherFlags
	if publisher {
		pf = addPublisherFlags(fs)
	}
	var aggConcurrent, aggBuffered *int
	if aggregator {
		names := []string{"aggregator-max-concurrent-requests"}
		bufNames := []string{"aggregator-max-buffer-size"}
		if !publisher {
			// Floe's earlier names for `floe aggregator`.
			names = append(names, "max-concurrent-requests")
			bufNames = append(bufNames, "max-request-buffer-size")
		}
		aggConcurrent = intAlias(fs, api.DefaultAggregatorConcurrent, "reads run at once", names...)
		aggBuffered = intAlias(fs, api.DefaultAggregatorBuffered, "reads waiting before a GET gets 429", bufNames...)
	}
	maxBlobSize := fs.Uint64("max-blob-size", 0, "largest blob the aggregator serves, in bytes (0: no limit)")
	allowed := listVar(fs, "blob attributes served as response headers by /v1/blobs/by-object-id (several after the flag, or comma-separated)", true, "allowed-headers")
	allowTags := fs.Bool("allow-quilt-patch-tags-in-response", false, "serve every tag of a quilt patch as a response header, not only the --allowed-headers")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	xf := addExplorerFlags(fs)
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return usagef("--log-level: %v", err)
	}
	for _, p := range []*int{pf.concurrent, aggConcurrent} {
		if p != nil && *p <= 0 {
			return usagef("the --*max-concurrent-requests flags must be positive")
		}
	}
	for _, p := range []*int{pf.buffered, aggBuffered} {
		if p != nil && *p < 0 {
			return usagef("the --*max-buffer-size flags must not be negative")
		}
	}
	if *maxBodyKiB <= 0 || (pf.maxQuiltKiB != nil && *pf.maxQuiltKiB <= 0) {
		return usagef("--max-body-size and --max-quilt-body-size must be positive")
	}
	var jwt *daemon.JWTConfig
	if publisher {
		if *pf.recvBufKiB != 0 && *pf.recvBufKiB < *maxBodyKiB {
			return usagef("--publisher-max-receive-buffer (%d KiB) must be at least --max-body-size (%d KiB)", *pf.recvBufKiB, *maxBodyKiB)
		}
		if *pf.subDir != "" && (*pf.nClients <= 0 || *pf.nClients > 256) {
			return usagef("--n-clients must be between 1 and 256")
		}
		if *pf.jwtSecret != "" || *pf.jwtExpiring > 0 || *pf.jwtVerify {
			jwt = &daemon.JWTConfig{Algorithm: *pf.jwtAlg, ExpiringSec: *pf.jwtExpiring, VerifyUpload: *pf.jwtVerify, CacheSize: *pf.jwtCacheSize}
			if *pf.jwtSecret != "" {
				key, err := daemon.ParseJWTKey(*pf.jwtAlg, *pf.jwtSecret)
				if err != nil {
					return usagef("--jwt-decode-secret: %v", err)
				}
				jwt.Key = key
			}
		}
	}
	headers := *allowed
	if len(headers) == 0 {
		headers = strings.Split(api.DefaultAllowedHeader, ",")
	}
	log := slog.New(slog.NewJSONHandler(e.stderr, &slog.HandlerOptions{Level: level})).With("service", name)
	if jwt != nil && jwt.Key == nil {
		log.Warn("JWT authentication without --jwt-decode-secret: token signatures are not checked")
	}
	cfg, path, err := loadClientConfig(cf)
	if err != nil {
		return err
	}
	if *rpcURL != "" {
		cfg.ControlPlaneURL = *rpcURL
	}
	if publisher && cfg.Wallet == nil {
		return fmt.Errorf("%s: %w (the publisher pays for storage)", path, client.ErrNoWallet)
	}
	cfg.Logger = log.With("component", "client")
	c, err := client.New(ctx, *cfg)
	if err != nil {
		return fmt.Errorf("connecting with %s: %w", path, err)
	}
	defer c.Close()
	blobs := daemon.FromClient(c)
	if publisher && (*pf.subDir != "" || *pf.burnAfterStore) {
		stores := []*client.Client{c}
		if *pf.subDir != "" {
			if stores, err = openSubWallets(ctx, log, *cfg, *pf.subDir, *pf.nClients, *pf.walRefill, *pf.minBalance, *pf.refill); err != nil {
				return err
			}
			defer func() {
				for _, s := range stores {
					s.Close()
				}
			}()
		}
		var keep *client.Address
		if !*pf.burnAfterStore {
			a := c.Address()
			keep = &a
		}
		if blobs, err = daemon.FromClients(c, stores, keep); err != nil {
			return err
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	dcfg := daemon.Config{Publisher: publisher, Aggregator: aggregator, Blobs: blobs,
		MaxBodySize: *maxBodyKiB << 10, MaxBlobSize: *maxBlobSize, JWT: jwt,
		AllowedHeaders: headers, AllowQuiltPatchTags: *allowTags, Logger: log, Registry: reg}
	if *blocklistPath != "" {
		bl, err := daemon.LoadBlocklist(*blocklistPath, log.With("component", "blocklist"))
		if err != nil {
			return err
		}
		dcfg.Blocklist = bl
		go bl.Run(ctx, daemon.DefaultBlocklistRefresh)
	}
	if publisher {
		dcfg.PublisherConcurrent, dcfg.PublisherBuffered, dcfg.MaxReceiveBuffer = *pf.concurrent, *pf.buffered, *pf.recvBufKiB<<10
		dcfg.MaxQuiltBodySize = *pf.maxQuiltKiB << 10
		dcfg.SpillAbove, dcfg.MaxSpillBytes, dcfg.SpillDir = kibOrNegative(*pf.spillAboveKiB), kibOrNegative(*pf.maxSpillKiB), cfg.TempDir
		for o := range strings.SplitSeq(*pf.origins, ",") {
			if o = strings.TrimSpace(o); o != "" {
				dcfg.PublisherOrigins = append(dcfg.PublisherOrigins, o)
			}
		}
	}
	if aggregator {
		dcfg.AggregatorConcurrent, dcfg.AggregatorBuffered = *aggConcurrent, *aggBuffered
	}
	x, err := xf.explorer(cfg, reg, log)
	if err != nil {
		return err
	}
	if x != nil {
		dcfg.Explorer = x
		go x.Run(ctx)
	}
	h, err := daemon.New(dcfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *bind)
	if err != nil {
		return err
	}
	servers := []*http.Server{h.HTTPServer()}
	listeners := []net.Listener{ln}
	if *metricsAddr != "off" && *metricsAddr != "" {
		mln, err := net.Listen("tcp", *metricsAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("metrics: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle(api.RouteMetrics, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		servers = append(servers, &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second})
		listeners = append(listeners, mln)
		log.Info("metrics listening", "addr", mln.Addr().String())
	}
	serveErr := make(chan error, len(servers))
	for i, s := range servers {
		go func() { serveErr <- s.Serve(listeners[i]) }()
	}
	log.Info(name+" listening", "addr", ln.Addr().String(), "config", path, "jwt", dcfg.JWT != nil)
	fmt.Fprintf(e.stdout, "%s listening on http://%s\n", name, ln.Addr())
	var runErr error
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		runErr = err
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, s := range servers {
		if err := s.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("shutdown", "err", err)
		}
	}
	if errors.Is(runErr, http.ErrServerClosed) {
		runErr = nil
	}
	return runErr
}

// openSubWallets loads (or creates) n wallets in dir, funds each below minBalance with refill
// from the main wallet, keeps them funded every interval until ctx ends, and returns a client
// per wallet (Walrus's publisher sub-wallets).
func openSubWallets(ctx context.Context, log *slog.Logger, cfg client.Config, dir string, n int, refill, minBalance uint64, interval time.Duration) ([]*client.Client, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	keys := make([]*client.AccountKey, n)
	for i := range keys {
		p := filepath.Join(dir, fmt.Sprintf("sub-wallet-%d.json", i))
		k, err := client.LoadWallet(p)
		if errors.Is(err, os.ErrNotExist) {
			if k, err = client.NewWallet(); err == nil {
				err = client.SaveWallet(p, k)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("sub-wallet %s: %w", p, err)
		}
		keys[i] = k
	}
	cp := cpclient.New(cfg.ControlPlaneURL, cfg.HTTPClient)
	params, err := cp.Params(ctx)
	if err != nil {
		return nil, err
	}
	main := cfg.Wallet
	fund := func(ctx context.Context) error {
		for _, k := range keys {
			acc, err := cp.Account(ctx, cpapi.Address(k.Address()))
			if err != nil {
				return err
			}
			if acc.Balance >= minBalance {
				continue
			}
			// Up to the minimum and one refill more, so that the next refill comes after a
			// refill's worth of stores, not after the next one.
			amount := minBalance - acc.Balance + refill
			if _, err := cp.Execute(ctx, params.ChainID, main, cpapi.Op{Transfer: &cpapi.TransferOp{To: cpapi.Address(k.Address()), Amount: amount}}); err != nil {
				return fmt.Errorf("funding sub-wallet %s from %s: %w", k.Address(), main.Address(), err)
			}
			log.Info("sub-wallet refilled", "wallet", k.Address(), "amount", amount)
		}
		return nil
	}
	if err := fund(ctx); err != nil {
		return nil, err
	}
	clients := make([]*client.Client, 0, n)
	for _, k := range keys {
		sc := cfg
		sc.Wallet = k
		c, err := client.New(ctx, sc)
		if err != nil {
			for _, c := range clients {
				c.Close()
			}
			return nil, err
		}
		clients = append(clients, c)
	}
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := fund(ctx); err != nil && ctx.Err() == nil {
					log.Warn("refilling the sub-wallets", "err", err)
				}
			}
		}
	}()
	log.Info("sub-wallets ready", "dir", dir, "n", n)
	return clients, nil
}

// kibOrNegative converts a KiB flag to bytes, keeping a negative value negative (its "never"
// or "no bound").
func kibOrNegative(kib int64) int64 {
	if kib < 0 {
		return -1
	}
	return kib << 10
}
