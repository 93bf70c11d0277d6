// Package daemon is Floe's publisher and aggregator: Walrus's client-daemon HTTP API (spec §6)
// over a blob store and reader, normally the client SDK (see FromClient).
//
// The publisher answers PUT /v1/blobs; the aggregator answers GET and HEAD on /v1/blobs/{id},
// /v1/blobs/{id}/byte-range, /v1/blobs/by-object-id/{id} and Walrus's alpha routes
// /v1alpha/blobs/{id}/stream and /v1alpha/blobs/concat (alpha.go); both answer /status, the
// Redoc page at /v1/api and the OpenAPI document at /v1/api/openapi.json (redoc.go). The
// publisher's JWT authentication is Walrus's (jwt.go); a Blocklist refuses blob IDs with 451
// (blocklist.go); FromClients spreads stores over several wallets (multi.go). Another method on a route gets 405 with Allow. Errors use
// Walrus's AIP-193 envelope with the daemon's domain, and are mapped to a status in one place,
// statusOf. When the Blobs also serves Quilts (FromClient's does), the quilt routes of
// quilt.go are served too (PUT /v1/quilts, patch reads, the patch list).
//
// # Queries and ranges
//
// Query strings are parsed from the raw string, not with net/url (which silently drops a pair
// such as "epochs=50;"): a pair that does not parse, a key the route does not know, or a key
// given twice is a 400, as Walrus's query structs reject them. A PUT asking for more epochs than
// the control plane stores ahead is a 400 before its body is read. Walrus's
// strict_consistency_check, skip_consistency_check and reuse_resources are parsed and checked;
// set to true they get 400 "not supported yet" until the SDK implements them.
//
// A Range header follows RFC 9110: "bytes=a-b" (b clamped to the end), "bytes=a-" and
// "bytes=-n" give 206; a single range starting at or past the end, or "bytes=-0", gives 416
// with "Content-Range: bytes */size". Several ranges, another unit, a malformed range or an
// If-Range that is not the blob's entity tag are ignored: the whole blob with 200 (Floe sends
// no multipart/byteranges).
//
// # Limits
//
// A request holds a concurrency slot of its role only while it works, and each role queues a
// bounded number more (publisher 8 + 8, aggregator 256 + 320, as Walrus); beyond that it gets
// 429 with Retry-After. A PUT takes its slot once its body is in memory. Bodies being received
// are bounded in bytes (MaxReceiveBuffer), counted as they arrive, never as a Content-Length
// announces them; a body must bring MinBodyRate × BodyRateWindow bytes in every window of
// BodyRateWindow or the request ends with 408, so a trickling body is cut while a large upload
// on a slow but moving link completes. A response is written in pieces of 64 KiB, each with a
// write deadline WriteStallTimeout ahead: a client that stops reading is disconnected and its
// slot freed. HTTPServer bounds headers (ReadHeaderTimeout, 64 KiB) and idle connections.
//
// # Content type, caching and the aggregator's origin
//
// Walrus mirrors the response's Content-Type from the request's Accept header (when it has no
// "*"), else from its Content-Type; the blob object's content-type attribute comes next. When
// neither gives one, Floe sniffs one from the blob's first 512 bytes with
// http.DetectContentType (Walrus sends none), so that a browser shows an image or a page
// instead of downloading it. Because the type depends on those request headers, every blob
// response carries "Vary: Accept, Content-Type" next to Walrus's
// "Cache-Control: public, max-age=86400": a shared cache keeps one response per value instead
// of serving the type one client asked for to every other. Because anyone can upload HTML, SVG
// or script, and a request can ask for any type, a response whose type is not known to be
// passive (images but SVG, audio, video, fonts, plain text, JSON, PDF, octet-stream, a few
// archives) carries "Content-Security-Policy: sandbox": browsers render it in an opaque origin
// without scripts, so a blob cannot act as the aggregator's (or a co-hosted publisher's)
// origin. X-Content-Type-Options: nosniff is always sent.
//
// # CORS
//
// The aggregator's routes allow any origin, as Walrus's. The publisher spends its wallet, so
// only the origins in PublisherOrigins (`--publisher-allowed-origins`) may call it from a
// browser, "*" for any (Walrus's behaviour); by default none: a cross-origin preflight gets
// 403, and so does a PUT carrying an Origin header outside the list.
package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	api "github.com/floelabs/floe/api/daemon"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/client"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/protocol"
)

// Errors a Blobs implementation returns (wrapped) so the daemon can answer with Walrus's
// status codes.
var (
	// ErrBlobNotFound: no such blob (or it expired or was deleted) → 404 BLOB_NOT_FOUND.
	ErrBlobNotFound = errors.New("daemon: blob not found")
	// ErrBlobUnavailable: not enough slivers or metadata could be read → 503 BLOB_UNAVAILABLE.
	ErrBlobUnavailable = errors.New("daemon: blob unavailable")
	// ErrInsufficientConfirmations: a store did not collect a quorum of confirmations → 504.
	ErrInsufficientConfirmations = errors.New("daemon: insufficient confirmations")
	// ErrBlobTooLarge: the blob exceeds what the network (or the daemon) accepts.
	ErrBlobTooLarge = errors.New("daemon: blob too large")
	// ErrBlobInvalid: the blob was marked invalid (inconsistent encoding) → 500 with markedInvalid.
	ErrBlobInvalid = errors.New("daemon: blob marked invalid")
	// ErrBadRequest: the request is malformed → 400 MALFORMED_REQUEST.
	ErrBadRequest = errors.New("daemon: malformed request")
	// ErrBlobBlocked: the blob ID is on the blocklist → 451 FORBIDDEN_BLOB.
	ErrBlobBlocked = errors.New("daemon: the blob is blocked")
)

// StoreParams are the publisher's query parameters, checked.
type StoreParams struct {
	Epochs       uint32
	Permanent    bool
	Force        bool
	SendObjectTo *crypto.Address
	// Share makes a newly created (permanent) blob object a shared one (share=true).
	Share bool
	// ReuseResources is Walrus's reuse_resources: reuse an owned registration of the blob or
	// an owned storage resource before buying storage.
	ReuseResources bool
}

// ReadParams are a read's checks: Walrus's strict_consistency_check and
// skip_consistency_check (at most one is set).
type ReadParams struct {
	// Strict: re-encode the whole blob and compare its blob ID before serving any of it.
	Strict bool
	// Skip: check each sliver against the metadata and nothing more.
	Skip bool
}

// Object is a blob object resolved by its object ID.
type Object struct {
	BlobID     blob.ID
	Attributes map[string]string
}

// Blobs is what the daemon serves; FromClient adapts the client SDK.
type Blobs interface {
	// Store stores data and returns Walrus's result (newlyCreated or alreadyCertified).
	Store(ctx context.Context, data []byte, p StoreParams) (*api.BlobStoreResult, error)
	// BlobSize returns the unencoded size of a readable blob.
	BlobSize(ctx context.Context, id blob.ID) (uint64, error)
	// Read writes the whole blob to w, with the checks of p.
	Read(ctx context.Context, id blob.ID, w io.Writer, p ReadParams) (int64, error)
	// ReadRange writes bytes [offset, offset+length) of the blob to w, with the checks of p.
	ReadRange(ctx context.Context, id blob.ID, offset, length uint64, w io.Writer, p ReadParams) error
	// Object resolves a blob object.
	Object(ctx context.Context, id protocol.ObjectID) (*Object, error)
	// MaxEpochsAhead is the most epochs ahead the network stores a blob for (the control
	// plane's limit), so that a PUT asking for more is refused before its body is read.
	MaxEpochsAhead(ctx context.Context) (uint32, error)
}

// Config configures a daemon. Zero fields take the defaults named in their comments
// (api.Default...); Validate reports the rest.
type Config struct {
	// Publisher and Aggregator select the routes served (both for `floe daemon`).
	Publisher, Aggregator bool
	Blobs                 Blobs
	// MaxBodySize bounds a PUT body in bytes (default 10 MiB).
	MaxBodySize int64
	// MaxQuiltBodySize bounds a PUT /v1/quilts body in bytes (default 100 MiB, Walrus's).
	MaxQuiltBodySize int64
	// AllowQuiltPatchTags serves every tag of a quilt patch as a response header, not only
	// the AllowedHeaders (Walrus's --allow-quilt-patch-tags-in-response).
	AllowQuiltPatchTags bool
	// PublisherConcurrent stores run at once and PublisherBuffered more wait, their bodies
	// received; beyond that a PUT gets 429 (defaults 8 and 8, Walrus's).
	PublisherConcurrent, PublisherBuffered int
	// AggregatorConcurrent reads run at once and AggregatorBuffered more wait; beyond that a
	// read gets 429 (defaults 256 and 320, Walrus's).
	AggregatorConcurrent, AggregatorBuffered int
	// MaxReceiveBuffer bounds the bytes of PUT bodies being received at once, counted as they
	// arrive (default 16 × MaxBodySize); a body that finds it full gets 429.
	MaxReceiveBuffer int64
	// SpillAbove: a PUT /v1/blobs body larger than this many bytes is received into a
	// temporary file in SpillDir (default os.TempDir()) and stored from there, if Blobs is a
	// FileBlobs (default 64 MiB, client.DefaultSpillAbove; negative: always in memory).
	// MaxSpillBytes bounds the bytes of the bodies being spilled at once; a body that finds
	// it full gets 429 (default MaxReceiveBuffer, negative: no bound). See spill.go.
	SpillAbove    int64
	SpillDir      string
	MaxSpillBytes int64
	// MinBodyRate (bytes per second) and BodyRateWindow: every BodyRateWindow of a PUT body
	// must bring MinBodyRate × BodyRateWindow bytes, or the request ends with 408 (defaults
	// 1 KiB/s and 20 s).
	MinBodyRate    int64
	BodyRateWindow time.Duration
	// WriteStallTimeout bounds every write of a response, in pieces of 64 KiB: a client that
	// takes nothing for that long is disconnected (default 30 s).
	WriteStallTimeout time.Duration
	// ReadHeaderTimeout and IdleTimeout are HTTPServer's (defaults 10 s and 2 min).
	ReadHeaderTimeout, IdleTimeout time.Duration
	// PublisherOrigins are the origins whose browser pages may call the publisher (CORS), "*"
	// for any; none by default. The aggregator allows any origin, as Walrus's.
	PublisherOrigins []string
	// MaxBlobSize bounds the blobs the aggregator serves (0: no bound) → 403 BLOB_TOO_LARGE.
	MaxBlobSize uint64
	// AllowedHeaders are the blob attributes served as response headers (lower case); nil
	// means Walrus's default list.
	AllowedHeaders []string
	JWT            *JWTConfig
	// Blocklist, if set, names blob IDs the daemon neither serves nor stores (451).
	Blocklist *Blocklist
	// Explorer, if set, is served under its Prefix (internal/explorer), and GET / redirects
	// to it.
	Explorer Explorer
	Logger   *slog.Logger
	// Registry receives the daemon's metrics (none if nil).
	Registry prometheus.Registerer
	// Now is the clock for JWT expiry (time.Now if nil).
	Now func() time.Time
}

// withDefaults returns c with its zero fields set to the defaults.
func (c Config) withDefaults() Config {
	setInt := func(p *int, d int) {
		if *p == 0 {
			*p = d
		}
	}
	if c.MaxBodySize == 0 {
		c.MaxBodySize = api.DefaultMaxBodySize
	}
	if c.MaxQuiltBodySize == 0 {
		c.MaxQuiltBodySize = api.DefaultMaxQuiltBodySize
	}
	setInt(&c.PublisherConcurrent, api.DefaultPublisherConcurrent)
	setInt(&c.PublisherBuffered, api.DefaultPublisherBuffered)
	setInt(&c.AggregatorConcurrent, api.DefaultAggregatorConcurrent)
	setInt(&c.AggregatorBuffered, api.DefaultAggregatorBuffered)
	if c.MaxReceiveBuffer == 0 {
		c.MaxReceiveBuffer = api.DefaultReceiveBufferBodies * c.MaxBodySize
		if c.Publisher && servesQuilts(c.Blobs) {
			// One quilt body fits too.
			c.MaxReceiveBuffer = max(c.MaxReceiveBuffer, c.MaxQuiltBodySize)
		}
	}
	if c.SpillAbove == 0 {
		c.SpillAbove = client.DefaultSpillAbove
	}
	if c.MaxSpillBytes == 0 {
		c.MaxSpillBytes = c.MaxReceiveBuffer
	}
	if c.MinBodyRate == 0 {
		c.MinBodyRate = api.DefaultMinBodyRate
	}
	if c.BodyRateWindow == 0 {
		c.BodyRateWindow = api.DefaultBodyRateWindow
	}
	if c.WriteStallTimeout == 0 {
		c.WriteStallTimeout = api.DefaultWriteStallTimeout
	}
	if c.ReadHeaderTimeout == 0 {
		c.ReadHeaderTimeout = api.DefaultReadHeaderTimeout
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = api.DefaultIdleTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.AllowedHeaders == nil {
		c.AllowedHeaders = strings.Split(api.DefaultAllowedHeader, ",")
	}
	return c
}

// Validate reports a configuration that cannot work (after defaults).
func (c Config) Validate() error {
	switch {
	case !c.Publisher && !c.Aggregator:
		return errors.New("daemon: neither publisher nor aggregator")
	case c.Blobs == nil:
		return errors.New("daemon: no Blobs")
	case c.MaxBodySize < 0 || c.MaxQuiltBodySize < 0:
		return errors.New("daemon: negative MaxBodySize or MaxQuiltBodySize")
	case c.PublisherConcurrent < 0 || c.AggregatorConcurrent < 0:
		return errors.New("daemon: negative concurrency")
	case c.PublisherBuffered < 0 || c.AggregatorBuffered < 0:
		return errors.New("daemon: negative queue size")
	case c.MaxReceiveBuffer < c.MaxBodySize:
		return fmt.Errorf("daemon: MaxReceiveBuffer %d is smaller than MaxBodySize %d: no body could be received", c.MaxReceiveBuffer, c.MaxBodySize)
	case c.Publisher && servesQuilts(c.Blobs) && c.MaxReceiveBuffer < c.MaxQuiltBodySize:
		return fmt.Errorf("daemon: MaxReceiveBuffer %d is smaller than MaxQuiltBodySize %d: the largest quilt could not be received", c.MaxReceiveBuffer, c.MaxQuiltBodySize)
	case c.MinBodyRate < 0 || c.BodyRateWindow < 0 || c.WriteStallTimeout < 0 || c.ReadHeaderTimeout < 0 || c.IdleTimeout < 0:
		return errors.New("daemon: negative rate or timeout")
	}
	if c.JWT != nil {
		if err := validateJWT(c.JWT); err != nil {
			return err
		}
	}
	for _, o := range c.PublisherOrigins {
		if err := checkOrigin(o); err != nil {
			return err
		}
	}
	return nil
}

// Explorer is a web page mounted on the daemon (internal/explorer's Explorer).
type Explorer interface {
	http.Handler
	// Prefix is the path it serves under, without a trailing slash (e.g. "/explorer").
	Prefix() string
}

// Server is the daemon's HTTP handler.
type Server struct {
	cfg      Config
	mux      *http.ServeMux
	log      *slog.Logger
	pub, agg *limiter
	recv     *byteBudget
	spill    *byteBudget // bytes of bodies spilled to disk (MaxSpillBytes)
	jwt      *jwtVerifier
	allowed  map[string]bool
	origins  map[string]bool
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// New returns the handler for cfg.
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), log: cfg.Logger, allowed: map[string]bool{}, origins: map[string]bool{},
		pub:  newLimiter(cfg.PublisherConcurrent, cfg.PublisherBuffered),
		agg:  newLimiter(cfg.AggregatorConcurrent, cfg.AggregatorBuffered),
		recv: &byteBudget{max: cfg.MaxReceiveBuffer}, spill: &byteBudget{max: cfg.MaxSpillBytes}}
	if cfg.MaxSpillBytes < 0 {
		s.spill.max = math.MaxInt64
	}
	for _, h := range cfg.AllowedHeaders {
		if h = strings.ToLower(strings.TrimSpace(h)); h != "" {
			s.allowed[h] = true
		}
	}
	for _, o := range cfg.PublisherOrigins {
		s.origins[o] = true
	}
	if cfg.JWT != nil {
		s.jwt = newJWTVerifier(*cfg.JWT, cfg.Now)
	}
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "floe_daemon_requests_total",
		Help: "HTTP requests by route and status code."}, []string{"route", "code"})
	s.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "floe_daemon_request_seconds",
		Help: "HTTP request duration by route.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 10)}, []string{"route"})
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	collectors := []prometheus.Collector{s.requests, s.duration,
		gauge("floe_daemon_receive_buffer_bytes", "Bytes reserved by PUT bodies being received (at most MaxReceiveBuffer).",
			func() float64 { return float64(s.recv.inUse()) }),
		gauge("floe_daemon_spill_bytes", "Bytes reserved by PUT bodies spilled to disk (at most MaxSpillBytes).",
			func() float64 { return float64(s.spill.inUse()) }),
		gauge("floe_daemon_blocklist_size", "Blob IDs on the blocklist.", func() float64 { return float64(cfg.Blocklist.Len()) })}
	for _, r := range []struct {
		role string
		l    *limiter
	}{{"publisher", s.pub}, {"aggregator", s.agg}} {
		l := r.l
		collectors = append(collectors,
			gauge("floe_daemon_"+r.role+"_running", "Requests of the role holding a slot.", func() float64 { return float64(len(l.active)) }),
			gauge("floe_daemon_"+r.role+"_queued", "Requests of the role waiting for a slot.", func() float64 { return float64(max(0, len(l.queue)-len(l.active))) }))
	}
	if cfg.Registry != nil {
		for _, c := range collectors {
			if err := cfg.Registry.Register(c); err != nil {
				return nil, fmt.Errorf("daemon: metrics: %w", err)
			}
		}
	}
	s.route(api.RouteStatus, "status", methods{http.MethodGet: func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "OK")
	}})
	s.route(api.RouteOpenAPI, "openapi", methods{http.MethodGet: s.apiDocs})
	s.route(api.RouteOpenAPISpec, "openapi", methods{http.MethodGet: s.openAPI})
	s.route(routeRedocJS, "openapi", methods{http.MethodGet: serveRedocJS})
	s.route(routeRedocInit, "openapi", methods{http.MethodGet: serveRedocJS})
	if cfg.Publisher {
		s.route(api.RouteBlobs, "store", methods{http.MethodPut: s.store})
	}
	if cfg.Aggregator {
		s.route(api.RouteBlob, "read", methods{http.MethodGet: s.readBlob})
		// /v1/blobs/{blob_id}/byte-range and /v1/blobs/by-object-id/{object_id} overlap as
		// ServeMux patterns, so one pattern serves both.
		s.route("/v1/blobs/{first}/{second}", "sub", methods{http.MethodGet: func(w http.ResponseWriter, r *http.Request) {
			switch {
			case r.PathValue("first") == "by-object-id":
				s.readByObjectID(w, r, r.PathValue("second"))
			case r.PathValue("second") == "byte-range":
				s.readByteRange(w, r, r.PathValue("first"))
			default:
				writeError(w, fmt.Errorf("%w: no route %s %s", errNoRoute, r.Method, r.URL.Path))
			}
		}})
		s.route(api.RouteBlobStream, "stream", methods{http.MethodGet: s.streamBlob})
		s.route(api.RouteBlobsConcat, "concat", methods{http.MethodGet: s.concatBlobs, http.MethodPost: s.concatBlobs})
	}
	s.quiltRoutes()
	if x := cfg.Explorer; x != nil {
		// ServeHTTP hands the explorer's paths to it; the root leads there.
		s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, x.Prefix()+"/", http.StatusFound)
		})
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.requests.WithLabelValues("other", "404").Inc()
		writeError(w, fmt.Errorf("%w: no route %s %s", errNoRoute, r.Method, r.URL.Path))
	})
	return s, nil
}

// HTTPServer returns an http.Server for the daemon with its connection bounds: headers within
// ReadHeaderTimeout, idle connections closed after IdleTimeout, headers at most 64 KiB. Bodies
// and response writes are bounded per request by the handler (MinBodyRate,
// WriteStallTimeout), not by a deadline on the whole request, which would cut large
// transfers on slow links.
func (s *Server) HTTPServer() *http.Server {
	return &http.Server{Handler: s, ReadHeaderTimeout: s.cfg.ReadHeaderTimeout, IdleTimeout: s.cfg.IdleTimeout,
		MaxHeaderBytes: 64 << 10, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
}

var (
	errNoRoute          = errors.New("not found")
	errMethodNotAllowed = errors.New("method not allowed")
)

// ServeHTTP adds CORS and serves the routes. The explorer's pages are for this origin only:
// they get no CORS headers.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if x := s.cfg.Explorer; x != nil && (r.URL.Path == x.Prefix() || strings.HasPrefix(r.URL.Path, x.Prefix()+"/")) {
		x.ServeHTTP(w, r)
		return
	}
	if s.cors(w, r) {
		return
	}
	s.mux.ServeHTTP(w, r)
}

// methods maps the methods of a route to their handlers; GET also serves HEAD.
type methods map[string]http.HandlerFunc

// route registers the handlers of a path: other methods get 405 with Allow. Every response
// is written under the write-stall bound, counted by status and timed.
func (s *Server) route(path, name string, m methods) {
	var allow []string
	for method := range m {
		allow = append(allow, method)
		if method == http.MethodGet {
			allow = append(allow, http.MethodHead)
		}
	}
	slices.Sort(allow)
	allowed := strings.Join(allow, ", ")
	s.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rc := http.NewResponseController(w)
		sw := &statusWriter{ResponseWriter: &stallWriter{ResponseWriter: w, rc: rc, timeout: s.cfg.WriteStallTimeout}, code: http.StatusOK}
		defer func() {
			// What net/http writes and reads after the handler (the buffered end of the
			// response, the discarded rest of an unread body) is bounded too.
			now := time.Now()
			rc.SetWriteDeadline(now.Add(s.cfg.WriteStallTimeout))
			rc.SetReadDeadline(now.Add(s.cfg.BodyRateWindow))
			s.requests.WithLabelValues(name, fmt.Sprint(sw.code)).Inc()
			s.duration.WithLabelValues(name).Observe(time.Since(start).Seconds())
		}()
		h := m[r.Method]
		if h == nil && r.Method == http.MethodHead {
			h = m[http.MethodGet]
		}
		if h == nil {
			sw.Header().Set("Allow", allowed)
			writeError(sw, fmt.Errorf("%w: %s %s (allowed: %s)", errMethodNotAllowed, r.Method, r.URL.Path, allowed))
			return
		}
		h(sw, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// admit takes a slot of l for a request, answering 429 (false) when l is full.
func admit(w http.ResponseWriter, r *http.Request, l *limiter) (func(), bool) {
	release, err := l.acquire(r.Context())
	if err != nil {
		writeError(w, err)
		return nil, false
	}
	return release, true
}

// statusError carries an explicit status and reason (request validation).
type statusError struct {
	code   int
	reason string
	msg    string
}

func (e *statusError) Error() string { return e.msg }

func badRequest(reason, format string, args ...any) error {
	return &statusError{code: http.StatusBadRequest, reason: reason, msg: fmt.Sprintf(format, args...)}
}

// statusOf maps an error to its HTTP status and reason: the one place where the daemon does so.
func statusOf(err error) (int, string) {
	var se *statusError
	var je *jwtError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &se):
		return se.code, se.reason
	case errors.As(err, &je):
		return je.code, je.reason
	case errors.Is(err, ErrBlobBlocked):
		return http.StatusUnavailableForLegalReasons, api.ReasonForbiddenBlob
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, api.ReasonPayloadTooLarge
	case errors.Is(err, errOverloaded), errors.Is(err, errBufferFull), errors.Is(err, errSpillFull):
		return http.StatusTooManyRequests, api.ReasonTooManyRequests
	case errors.Is(err, errDiskFull):
		return http.StatusInsufficientStorage, api.ReasonInsufficientStorage
	case errors.Is(err, errBodyTimeout):
		return http.StatusRequestTimeout, api.ReasonRequestTimeout
	case errors.Is(err, errShortBody):
		return http.StatusBadRequest, api.ReasonMalformedRequest
	case errors.Is(err, errMethodNotAllowed):
		return http.StatusMethodNotAllowed, api.ReasonMethodNotAllowed
	case errors.Is(err, errOriginNotAllowed):
		return http.StatusForbidden, api.ReasonOriginNotAllowed
	case errors.Is(err, errNoRoute):
		return http.StatusNotFound, api.ReasonNotFound
	case errors.Is(err, ErrBlobNotFound):
		return http.StatusNotFound, api.ReasonBlobNotFound
	case errors.Is(err, ErrQuiltPatchNotFound):
		return http.StatusNotFound, api.ReasonQuiltPatchNotFound
	case errors.Is(err, ErrBlobUnavailable):
		return http.StatusServiceUnavailable, api.ReasonBlobUnavailable
	case errors.Is(err, ErrInsufficientConfirmations):
		return http.StatusGatewayTimeout, api.ReasonInsufficientConfirmations
	case errors.Is(err, ErrBlobTooLarge):
		return http.StatusRequestEntityTooLarge, api.ReasonBlobTooLarge
	case errors.Is(err, ErrBadRequest):
		return http.StatusBadRequest, api.ReasonMalformedRequest
	case errors.Is(err, ErrBlobInvalid):
		return http.StatusInternalServerError, api.ReasonBlobInvalid
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, api.ReasonInternal
	}
	return http.StatusInternalServerError, api.ReasonInternal
}

// statusName is the AIP-193 status of an HTTP code.
func statusName(code int) string {
	switch code {
	case 400:
		return "INVALID_ARGUMENT"
	case 401:
		return "UNAUTHENTICATED"
	case 403:
		return "PERMISSION_DENIED"
	case 404:
		return "NOT_FOUND"
	case 405:
		return "UNIMPLEMENTED"
	case 408:
		return "DEADLINE_EXCEEDED"
	case 413:
		return "SIZE_EXCEEDED"
	case 416:
		return "RANGE_NOT_SATISFIABLE"
	case 429:
		return "RESOURCE_EXHAUSTED"
	case 451:
		return "UNAVAILABLE_FOR_LEGAL_REASONS"
	case 503:
		return "UNAVAILABLE"
	case 504:
		return "DEADLINE_EXCEEDED"
	case 507:
		return "RESOURCE_EXHAUSTED"
	}
	return "INTERNAL"
}

func writeError(w http.ResponseWriter, err error) {
	code, reason := statusOf(err)
	switch code {
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", retryAfter)
	case http.StatusRequestTimeout:
		// The rest of the body will not be read: the connection cannot carry another request.
		w.Header().Set("Connection", "close")
	}
	domain := api.ErrorDomain
	var je *jwtError
	if errors.As(err, &je) {
		domain = JWTDomain
	}
	writeErrorDomain(w, code, reason, domain, err.Error())
}

func writeErrorCode(w http.ResponseWriter, code int, reason, msg string) {
	writeErrorDomain(w, code, reason, api.ErrorDomain, msg)
}

func writeErrorDomain(w http.ResponseWriter, code int, reason, domain, msg string) {
	h := w.Header()
	for _, k := range []string{"Content-Length", "ETag", "Cache-Control", "Content-Type", "Accept-Ranges"} {
		h.Del(k)
	}
	if code != http.StatusRequestedRangeNotSatisfiable {
		h.Del("Content-Range")
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(api.ErrorResponse{Error: api.ErrorBody{Code: code, Status: statusName(code), Message: msg,
		Details: []api.ErrorDetail{{Type: "ErrorInfo", Reason: reason, Domain: domain}}}})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
