package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/floelabs/floe/client"
	"github.com/floelabs/floe/internal/s3gw"
)

func s3Command() command {
	return command{name: "s3", summary: "S3-compatible gateway: buckets and objects stored on the network", run: runS3}
}

func runS3(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "s3")
	config := fs.String("config", "", "client configuration file naming the network (default ./client_config.yaml, else the default devnet's)")
	listen := fs.String("listen", s3gw.DefaultAddr, "listen address")
	keys := fs.String("keys", "", "access keys file (YAML: access_keys: [{access_key_id, secret_access_key, wallet}]); required")
	dir := fs.String("dir", "", "index directory (default: in memory, rebuilt from the control plane at every start)")
	epochs := fs.Uint("epochs", 10, "epochs a new object is stored for unless its request (x-floe-epochs) or bucket says")
	chunkMiB := fs.Int64("chunk-size", 256, "largest blob, in MiB: larger objects and parts are stored as several blobs")
	spillKiB := fs.Int64("spill-above", client.DefaultSpillAbove>>10,
		"a chunk of a request body larger than this, in KiB, is received into a temporary file (in $TMPDIR) and stored from there in bounded memory (-1: always in memory)")
	stale := fs.Bool("stale-reads", false, "serve reads from the local index without waiting for the control plane's latest events")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return usagef("--log-level: %v", err)
	}
	if *keys == "" {
		return usagef("--keys is required")
	}
	if *epochs == 0 || *chunkMiB <= 0 {
		return usagef("--epochs and --chunk-size must be positive")
	}
	log := slog.New(slog.NewJSONHandler(e.stderr, &slog.HandlerOptions{Level: level})).With("service", "s3")
	path, err := findClientConfig(*config)
	if err != nil {
		return err
	}
	cfg, err := client.LoadConfig(path)
	if err != nil {
		return err
	}
	cfg.SpillAbove = kibOrNegative(*spillKiB)
	ks, err := s3gw.LoadKeys(*keys)
	if err != nil {
		return err
	}
	g, err := s3gw.New(ctx, s3gw.Config{Client: *cfg, Keys: ks, Dir: *dir, DefaultEpochs: uint32(*epochs),
		ChunkSize: *chunkMiB << 20, StaleReads: *stale, Logger: log})
	if err != nil {
		return err
	}
	defer g.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: g.Handler(), ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("s3 gateway listening", "addr", ln.Addr().String(), "config", path, "keys", len(ks))
	fmt.Fprintf(e.stdout, "s3 gateway listening on http://%s\n", ln.Addr())
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-serveErr:
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("shutdown", "err", err)
	}
	if errors.Is(runErr, http.ErrServerClosed) {
		runErr = nil
	}
	return runErr
}
