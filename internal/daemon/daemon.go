// Package daemon is Floe's publisher and aggregator: Walrus's client-daemon HTTP API (spec §6)
// over a blob store and reader, normally the client SDK (see FromClient).
//
// The publisher answers PUT /v1/blobs; the aggregator answers GET and HEAD on /v1/blobs/{id},
// /v1/blobs/{id}/byte-range and /v1/blobs/by-object-id/{id}; both answer /status and the
// OpenAPI document at /v1/api. Errors use Walrus's AIP-193 envelope with the daemon's domain,
// and are mapped to a status in one place, statusOf.
//
// One deliberate deviation from Walrus: when a read request carries neither an Accept header
// without "*" nor a Content-Type, Walrus sends no Content-Type at all; Floe sniffs one from the
// first 512 bytes of the blob with http.DetectContentType, so that a browser shows an image or
// a page instead of downloading it. X-Content-Type-Options: nosniff is still sent.
package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	api "github.com/floelabs/floe/api/daemon"
	"github.com/floelabs/floe/blob"
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
)

// StoreParams are the publisher's query parameters, checked.
type StoreParams struct {
	Epochs       uint32
	Permanent    bool
	Force        bool
	SendObjectTo *crypto.Address
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
	// Read writes the whole blob to w.
	Read(ctx context.Context, id blob.ID, w io.Writer) (int64, error)
	// ReadRange writes bytes [offset, offset+length) of the blob to w.
	ReadRange(ctx context.Context, id blob.ID, offset, length uint64, w io.Writer) error
	// Object resolves a blob object.
	Object(ctx context.Context, id protocol.ObjectID) (*Object, error)
}

// JWTConfig enables JWT authentication of the publisher.
type JWTConfig struct {
	// Secret is the HS256 key.
	Secret []byte
	// VerifyUpload makes the request match the token's claims (epochs or max_epochs, size or
	// max_size, send_object_to), as Walrus's --jwt-verify-upload.
	VerifyUpload bool
}

// Config configures a daemon.
type Config struct {
	// Publisher and Aggregator select the routes served (both for `floe daemon`).
	Publisher, Aggregator bool
	Blobs                 Blobs
	// MaxBodySize bounds a PUT body in bytes (default 10 MiB).
	MaxBodySize int64
	// MaxConcurrent requests run at once per role and MaxBuffered more wait; beyond that the
	// daemon answers 429 (defaults 8 and 8).
	MaxConcurrent, MaxBuffered int
	// MaxBlobSize bounds the blobs the aggregator serves (0: no bound) → 403 BLOB_TOO_LARGE.
	MaxBlobSize uint64
	// AllowedHeaders are the blob attributes served as response headers (lower case); nil
	// means Walrus's default list.
	AllowedHeaders []string
	JWT            *JWTConfig
	Logger         *slog.Logger
	// Registry receives the daemon's metrics (none if nil).
	Registry prometheus.Registerer
	// Now is the clock for JWT expiry (time.Now if nil).
	Now func() time.Time
}

// Server is the daemon's HTTP handler.
type Server struct {
	cfg      Config
	mux      *http.ServeMux
	log      *slog.Logger
	pub, agg *limiter
	jwt      *jwtVerifier
	allowed  map[string]bool
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// New returns the handler for cfg.
func New(cfg Config) (*Server, error) {
	if !cfg.Publisher && !cfg.Aggregator {
		return nil, errors.New("daemon: neither publisher nor aggregator")
	}
	if cfg.Blobs == nil {
		return nil, errors.New("daemon: no Blobs")
	}
	if cfg.MaxBodySize <= 0 {
		cfg.MaxBodySize = api.DefaultMaxBodySize
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = api.DefaultMaxConcurrent
	}
	if cfg.MaxBuffered < 0 {
		return nil, errors.New("daemon: negative MaxBuffered")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.AllowedHeaders == nil {
		cfg.AllowedHeaders = strings.Split(api.DefaultAllowedHeader, ",")
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), log: cfg.Logger, allowed: map[string]bool{},
		pub: newLimiter(cfg.MaxConcurrent, cfg.MaxBuffered), agg: newLimiter(cfg.MaxConcurrent, cfg.MaxBuffered)}
	for _, h := range cfg.AllowedHeaders {
		if h = strings.ToLower(strings.TrimSpace(h)); h != "" {
			s.allowed[h] = true
		}
	}
	if cfg.JWT != nil {
		if len(cfg.JWT.Secret) == 0 {
			return nil, errors.New("daemon: empty JWT secret")
		}
		s.jwt = newJWTVerifier(cfg.JWT.Secret, cfg.Now)
	}
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "floe_daemon_requests_total",
		Help: "HTTP requests by route and status code."}, []string{"route", "code"})
	s.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "floe_daemon_request_seconds",
		Help: "HTTP request duration by route.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 10)}, []string{"route"})
	if cfg.Registry != nil {
		for _, c := range []prometheus.Collector{s.requests, s.duration} {
			if err := cfg.Registry.Register(c); err != nil {
				return nil, fmt.Errorf("daemon: metrics: %w", err)
			}
		}
	}
	s.handle("GET "+api.RouteStatus, "status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "OK")
	})
	s.handle("GET "+api.RouteOpenAPI, "openapi", s.openAPI)
	if cfg.Publisher {
		s.handle("PUT "+api.RouteBlobs, "store", s.limited(s.pub, s.store))
	}
	if cfg.Aggregator {
		// GET patterns also match HEAD in net/http's ServeMux.
		s.handle("GET "+api.RouteBlob, "read", s.limited(s.agg, s.readBlob))
		// /v1/blobs/{blob_id}/byte-range and /v1/blobs/by-object-id/{object_id} overlap as
		// ServeMux patterns, so one pattern serves both.
		s.handle("GET /v1/blobs/{first}/{second}", "sub", s.limited(s.agg, func(w http.ResponseWriter, r *http.Request) {
			switch {
			case r.PathValue("first") == "by-object-id":
				s.readByObjectID(w, r, r.PathValue("second"))
			case r.PathValue("second") == "byte-range":
				s.readByteRange(w, r, r.PathValue("first"))
			default:
				writeError(w, fmt.Errorf("%w: no route %s %s", errNoRoute, r.Method, r.URL.Path))
			}
		}))
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.requests.WithLabelValues("other", "404").Inc()
		writeError(w, fmt.Errorf("%w: no route %s %s", errNoRoute, r.Method, r.URL.Path))
	})
	return s, nil
}

var errNoRoute = errors.New("not found")

// ServeHTTP adds CORS (any origin and method, preflight cached 24 h) and serves the routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Expose-Headers", "*")
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		h.Set("Access-Control-Allow-Methods", "*")
		h.Set("Access-Control-Allow-Headers", "*")
		h.Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusOK)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// handle registers a route that counts requests by status and times them.
func (s *Server) handle(pattern, name string, f http.HandlerFunc) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		defer func() {
			s.requests.WithLabelValues(name, fmt.Sprint(sw.code)).Inc()
			s.duration.WithLabelValues(name).Observe(time.Since(start).Seconds())
		}()
		f(sw, r)
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

// limited runs f under l, answering 429 when l is full.
func (s *Server) limited(l *limiter, f http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		release, err := l.acquire(r.Context())
		if err != nil {
			writeError(w, err)
			return
		}
		defer release()
		f(w, r)
	}
}

// errOverloaded is returned when every slot and buffer place is taken → 429.
var errOverloaded = errors.New("daemon: too many requests")

// limiter admits max requests at once and lets buffered more wait.
type limiter struct {
	active chan struct{}
	queue  chan struct{}
}

func newLimiter(max, buffered int) *limiter {
	return &limiter{active: make(chan struct{}, max), queue: make(chan struct{}, max+buffered)}
}

func (l *limiter) acquire(ctx context.Context) (func(), error) {
	select {
	case l.queue <- struct{}{}:
	default:
		return nil, errOverloaded
	}
	select {
	case l.active <- struct{}{}:
	case <-ctx.Done():
		<-l.queue
		return nil, ctx.Err()
	}
	return func() { <-l.active; <-l.queue }, nil
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
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &se):
		return se.code, se.reason
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, api.ReasonPayloadTooLarge
	case errors.Is(err, errOverloaded):
		return http.StatusTooManyRequests, api.ReasonTooManyRequests
	case errors.Is(err, errUnauthenticated):
		return http.StatusUnauthorized, api.ReasonUnauthenticated
	case errors.Is(err, errNoRoute):
		return http.StatusNotFound, api.ReasonNotFound
	case errors.Is(err, ErrBlobNotFound):
		return http.StatusNotFound, api.ReasonBlobNotFound
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
	}
	return "INTERNAL"
}

func writeError(w http.ResponseWriter, err error) {
	code, reason := statusOf(err)
	writeErrorCode(w, code, reason, err.Error())
}

func writeErrorCode(w http.ResponseWriter, code int, reason, msg string) {
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
		Details: []api.ErrorDetail{{Type: "ErrorInfo", Reason: reason, Domain: api.ErrorDomain}}}})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
