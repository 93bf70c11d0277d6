package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	api "github.com/floelabs/floe/api/daemon"
	"github.com/floelabs/floe/client"
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

func runDaemon(ctx context.Context, e *env, name string, publisher, aggregator bool, args []string) error {
	fs := newFlagSet(e, name)
	config := fs.String("config", "", "client configuration file (default ./client_config.yaml, else the default devnet's)")
	bind := fs.String("bind-address", api.DefaultAddr, "listen address")
	metricsAddr := fs.String("metrics-address", api.DefaultMetricsAddr, "Prometheus listen address (\"off\" to disable)")
	maxBodyKiB := fs.Int64("max-body-size", api.DefaultMaxBodySize>>10, "largest blob a PUT accepts, in KiB")
	// The plain concurrency flags (Walrus's names) are the role's; `floe daemon` runs both roles
	// and names the aggregator's with a prefix.
	var pubConcurrent, pubBuffered, aggConcurrent, aggBuffered *int
	var recvBufKiB *int64
	var origins *string
	aggPrefix := ""
	if publisher {
		pubConcurrent = fs.Int("max-concurrent-requests", api.DefaultPublisherConcurrent, "stores run at once")
		pubBuffered = fs.Int("max-request-buffer-size", api.DefaultPublisherBuffered, "stores waiting, their bodies received, before a PUT gets 429")
		recvBufKiB = fs.Int64("publisher-max-buffer-size", 0,
			fmt.Sprintf("bytes of PUT bodies being received at once, in KiB, at least --max-body-size (0: %d × --max-body-size)", api.DefaultReceiveBufferBodies))
		origins = fs.String("publisher-allowed-origins", "", "origins whose browser pages may call the publisher (CORS), comma-separated scheme://host[:port], or \"*\" for any; default none")
		aggPrefix = "aggregator-"
	}
	if aggregator {
		aggConcurrent = fs.Int(aggPrefix+"max-concurrent-requests", api.DefaultAggregatorConcurrent, "reads run at once")
		aggBuffered = fs.Int(aggPrefix+"max-request-buffer-size", api.DefaultAggregatorBuffered, "reads waiting before a GET gets 429")
	}
	maxBlobSize := fs.Uint64("max-blob-size", 0, "largest blob the aggregator serves, in bytes (0: no limit)")
	allowed := fs.String("allowed-headers", api.DefaultAllowedHeader, "blob attributes served as response headers (comma-separated)")
	jwtSecret := fs.String("jwt-decode-secret", "", "enables JWT auth on the publisher: the HS256 secret (its bytes as given)")
	jwtAlg := fs.String("jwt-algorithm", "HS256", "JWT algorithm (only HS256)")
	jwtVerify := fs.Bool("jwt-verify-upload", false, "make each upload match its token's epochs/max_epochs, size/max_size and send_object_to")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return usagef("--log-level: %v", err)
	}
	for _, p := range []*int{pubConcurrent, aggConcurrent} {
		if p != nil && *p <= 0 {
			return usagef("the --max-concurrent-requests flags must be positive")
		}
	}
	for _, p := range []*int{pubBuffered, aggBuffered} {
		if p != nil && *p < 0 {
			return usagef("the --max-request-buffer-size flags must not be negative")
		}
	}
	if *maxBodyKiB <= 0 {
		return usagef("--max-body-size must be positive")
	}
	if recvBufKiB != nil && *recvBufKiB != 0 && *recvBufKiB < *maxBodyKiB {
		return usagef("--publisher-max-buffer-size (%d KiB) must be at least --max-body-size (%d KiB)", *recvBufKiB, *maxBodyKiB)
	}
	if *jwtAlg != "HS256" {
		return usagef("--jwt-algorithm %q: only HS256 is supported", *jwtAlg)
	}
	log := slog.New(slog.NewJSONHandler(e.stderr, &slog.HandlerOptions{Level: level})).With("service", name)
	path, err := findClientConfig(*config)
	if err != nil {
		return err
	}
	cfg, err := client.LoadConfig(path)
	if err != nil {
		return err
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
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	dcfg := daemon.Config{Publisher: publisher, Aggregator: aggregator, Blobs: daemon.FromClient(c),
		MaxBodySize: *maxBodyKiB << 10, MaxBlobSize: *maxBlobSize,
		AllowedHeaders: strings.Split(*allowed, ","), Logger: log, Registry: reg}
	if publisher {
		dcfg.PublisherConcurrent, dcfg.PublisherBuffered, dcfg.MaxReceiveBuffer = *pubConcurrent, *pubBuffered, *recvBufKiB<<10
		for o := range strings.SplitSeq(*origins, ",") {
			if o = strings.TrimSpace(o); o != "" {
				dcfg.PublisherOrigins = append(dcfg.PublisherOrigins, o)
			}
		}
	}
	if aggregator {
		dcfg.AggregatorConcurrent, dcfg.AggregatorBuffered = *aggConcurrent, *aggBuffered
	}
	if *jwtSecret != "" {
		dcfg.JWT = &daemon.JWTConfig{Secret: []byte(*jwtSecret), VerifyUpload: *jwtVerify}
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
