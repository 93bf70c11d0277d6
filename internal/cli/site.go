package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/floelabs/floe/client"
	"github.com/floelabs/floe/internal/devnet"
	"github.com/floelabs/floe/internal/portal"
	"github.com/floelabs/floe/site"
)

func siteCommand() command {
	return command{name: "site", summary: "publish a static website: site publish DIR [--epochs N] | site update [--site ID] DIR | site deploy DIR", run: runSite}
}

func portalCommand() command {
	return command{name: "portal", summary: "serve sites at http://<site>.localhost:PORT/ [--listen ADDR] [--domain D]", run: runPortal}
}

func runSite(ctx context.Context, e *env, args []string) error {
	// Global flags given before `site` come first (single tokens such as --config=FILE): the
	// subcommand is the first other argument, and the flags go on after it.
	var globals []string
	for len(args) > 0 && len(args[0]) > 1 && args[0][0] == '-' && args[0] != "-h" && args[0] != "--help" {
		globals, args = append(globals, args[0]), args[1:]
	}
	if len(args) > 0 {
		args = append(append([]string{args[0]}, globals...), args[1:]...)
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(e.stderr, "usage: floe site publish DIR [--epochs N] [--permanent] [--json]\n       floe site update [--site OBJECT_ID] DIR [--epochs N] [--json]\n       floe site deploy DIR [--site OBJECT_ID] [--epochs N] [--json]   (update when the site is known, else publish)\n       floe site show --site OBJECT_ID [--json]")
		if len(args) == 0 {
			return usagef("floe site: publish, update or show")
		}
		return nil
	}
	switch args[0] {
	case "publish", "update", "deploy":
		return runSitePublish(ctx, e, args[1:], args[0])
	case "show":
		return runSiteShow(ctx, e, args[1:])
	}
	return usagef("floe site: unknown subcommand %q (publish, update, deploy or show)", args[0])
}

// siteOutput is what `floe site publish|update --json` prints.
type siteOutput struct {
	*site.PublishResult
	URL string `json:"url"`
}

// runSitePublish is `floe site publish|update|deploy`; deploy updates the site named by --site
// or the directory's ws-resources.json, else publishes a new one. Each records the site's
// object ID in ws-resources.json (see site.SaveObjectID) unless --no-save-id.
func runSitePublish(ctx context.Context, e *env, args []string, sub string) error {
	name := "site " + sub
	fs := newFlagSet(e, name)
	cf := addClientFlags(fs)
	epochs := fs.Uint("epochs", 0, "epochs to store the site for, from the current one (publish: default 1; update: default until the site's end, more extends it)")
	permanent := fs.Bool("permanent", false, "store permanent blobs (default: deletable)")
	wsPath := fs.String("ws-resources", "", "site configuration (default DIR/"+site.ResourcesFile+")")
	siteID := fs.String("site", "", "update: the site's object ID (default: object_id of ws-resources.json)")
	portalURL := fs.String("portal", "", "portal base URL for the printed link (default: the devnet's portal, else http://localhost:"+portal.DefaultPort+")")
	noSave := fs.Bool("no-save-id", false, "do not record the site's object ID in ws-resources.json")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("usage: floe %s DIR [flags]", name)
	}
	if *epochs > 1<<32-1 {
		return usagef("--epochs must be at most %d", uint32(1<<32-1))
	}
	dir := pos[0]
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return usagef("%s is not a directory", dir)
	}
	opts := site.PublishOptions{Epochs: uint32(*epochs), Permanent: *permanent}
	if *cf.verbose {
		opts.Logger = slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	ws, err := readResourcesFlag(dir, *wsPath)
	if err != nil {
		return err
	}
	opts.Resources = ws
	idText := *siteID
	if idText == "" {
		idText = ws.ObjectID
	}
	update := sub == "update" || (sub == "deploy" && idText != "")
	if sub == "publish" && *siteID != "" {
		return usagef("floe site publish makes a new site: use update or deploy for --site")
	}
	if update && idText == "" {
		return usagef("floe site update: give --site OBJECT_ID (or object_id in %s)", site.ResourcesFile)
	}
	c, err := openClient(ctx, e, cf)
	if err != nil {
		return err
	}
	defer c.Close()
	fsys := os.DirFS(dir)
	var res *site.PublishResult
	if update {
		id, err := client.ParseObjectID(idText)
		if err != nil {
			return usagef("--site: %v", err)
		}
		res, err = site.Update(ctx, c, id, fsys, opts)
		if err != nil {
			return err
		}
	} else {
		if res, err = site.Publish(ctx, c, fsys, opts); err != nil {
			return err
		}
	}
	if !*noSave {
		wsFile := *wsPath
		if wsFile == "" {
			wsFile = filepath.Join(dir, site.ResourcesFile)
		}
		// Only the ID: a site name added here would change the next version's manifest.
		if err := site.SaveObjectID(wsFile, res.SiteID, ""); err != nil {
			return fmt.Errorf("the site is %s, but recording it in %s failed: %w", res.SiteID, wsFile, err)
		}
	}
	base, err := portalBase(*cf.config, *portalURL)
	if err != nil {
		return err
	}
	out := siteOutput{PublishResult: res, URL: siteURL(base, res.SiteID)}
	if *cf.asJSON {
		return printJSON(e.stdout, out)
	}
	verb := "published"
	switch {
	case res.Unchanged:
		verb = "unchanged"
	case update:
		verb = "updated"
	}
	fmt.Fprintf(e.stdout, "site %s\n  object     %s\n  url        %s\n  manifest   %s\n  files      %d stored in %d quilt(s), %d kept, %d removed\n  end epoch  %d (exclusive)\n  cost       %s\n",
		verb, res.SiteID, out.URL, res.ManifestID, len(res.Stored), len(res.Quilts), len(res.Kept), len(res.Removed), res.EndEpoch, humanCost(res.Cost))
	return nil
}

func runSiteShow(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "site show")
	cf := addClientFlags(fs)
	siteID := fs.String("site", "", "the site's object ID")
	portalURL := fs.String("portal", "", "portal base URL for the printed link")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if *siteID == "" && len(pos) == 1 {
		*siteID = pos[0]
	}
	id, err := client.ParseObjectID(*siteID)
	if err != nil {
		return usagef("usage: floe site show --site OBJECT_ID: %v", err)
	}
	c, err := openClient(ctx, e, cf)
	if err != nil {
		return err
	}
	defer c.Close()
	m, mid, err := site.LoadManifest(ctx, c, id)
	if err != nil {
		return err
	}
	base, err := portalBase(*cf.config, *portalURL)
	if err != nil {
		return err
	}
	if *cf.asJSON {
		return printJSON(e.stdout, struct {
			SiteID     client.ObjectID `json:"siteObjectId"`
			URL        string          `json:"url"`
			ManifestID string          `json:"manifestBlobId"`
			Manifest   *site.Manifest  `json:"manifest"`
		}{id, siteURL(base, id), mid.String(), m})
	}
	fmt.Fprintf(e.stdout, "site %s\n  url       %s\n  manifest  %s\n  name      %s\n", id, siteURL(base, id), mid, m.SiteName)
	for _, p := range m.Paths() {
		r := m.Resources[p]
		fmt.Fprintf(e.stdout, "  %-40s %10s  %s  %s\n", p, humanBytes(r.Size), r.Headers["content-type"], r.PatchID)
	}
	return nil
}

// readResourcesFlag reads the site configuration: the file given, else DIR/ws-resources.json
// (none: empty).
func readResourcesFlag(dir, path string) (*site.WSResources, error) {
	if path == "" {
		return site.ReadWSResources(os.DirFS(dir))
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return site.ParseWSResources(b)
}

// portalBase returns the portal's base URL: the flag, else the portal of the devnet whose
// client configuration is in use, else http://localhost:<default port>.
func portalBase(configFlag, flagValue string) (*url.URL, error) {
	raw := flagValue
	if raw == "" {
		if cfgPath, err := findClientConfig(configFlag); err == nil {
			var info devnet.Info
			if b, err := os.ReadFile(filepath.Join(filepath.Dir(cfgPath), devnet.InfoFile)); err == nil && json.Unmarshal(b, &info) == nil {
				raw = info.Portal
			}
		}
	}
	if raw == "" {
		raw = "http://localhost:" + portal.DefaultPort
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, usagef("--portal %q: not a URL such as http://localhost:%s", raw, portal.DefaultPort)
	}
	return u, nil
}

// siteURL returns the site's URL on the portal at base: its label as a subdomain.
func siteURL(base *url.URL, id client.ObjectID) string {
	u := *base
	u.Host = site.Label(id) + "." + base.Host
	u.Path = "/"
	return u.String()
}

func runPortal(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "portal")
	config := fs.String("config", "", "client configuration file (default ./client_config.yaml, else the default devnet's)")
	listen := fs.String("listen", portal.DefaultAddr, "listen address")
	domain := fs.String("domain", "localhost", "sites are served at http://<site>.<domain>:PORT/ (localhost resolves to 127.0.0.1 in browsers)")
	siteTTL := fs.Duration("site-ttl", 5*time.Second, "how long a site's manifest pointer is cached (how soon updates show)")
	cacheMiB := fs.Int64("cache-size", 64, "file bytes cached, in MiB (0: none)")
	cacheControl := fs.String("cache-control", portal.DefaultCacheControl, "Cache-Control of files whose site sets none")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return usagef("--log-level: %v", err)
	}
	if *cacheMiB < 0 || *siteTTL <= 0 {
		return usagef("--cache-size must not be negative and --site-ttl must be positive")
	}
	log := slog.New(slog.NewJSONHandler(e.stderr, &slog.HandlerOptions{Level: level})).With("service", "portal")
	path, err := findClientConfig(*config)
	if err != nil {
		return err
	}
	cfg, err := client.LoadConfig(path)
	if err != nil {
		return err
	}
	cfg.Wallet = nil // the portal only reads
	cfg.Logger = log.With("component", "client")
	c, err := client.New(ctx, *cfg)
	if err != nil {
		return fmt.Errorf("connecting with %s: %w", path, err)
	}
	defer c.Close()
	cacheBytes := *cacheMiB << 20
	if cacheBytes == 0 {
		cacheBytes = -1
	}
	p, err := portal.New(portal.Config{Backend: portal.FromClient(c), Domain: *domain, SiteTTL: *siteTTL,
		CacheBytes: cacheBytes, CacheControl: *cacheControl, Logger: log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	log.Info("portal listening", "addr", ln.Addr().String(), "domain", *domain, "config", path)
	fmt.Fprintf(e.stdout, "portal listening on %s: sites at http://<site>.%s:%s/\n", ln.Addr(), *domain, port)
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
