package daemon

import (
	"net/http"

	api "github.com/floelabs/floe/api/daemon"
	"github.com/floelabs/floe/internal/redoc"
)

// The API page at /v1/api is Redoc rendering the OpenAPI document (openapi.go), as Walrus's;
// internal/redoc serves the page, the vendored bundle and the document from the daemon
// itself, so the page needs no CDN and works offline.
var apiDocsPage = &redoc.Docs{Title: "Floe publisher and aggregator API", Base: api.RouteOpenAPI, Spec: []byte(openAPIDoc)}

const (
	routeRedocJS   = api.RouteOpenAPI + redoc.JSPath
	routeRedocInit = api.RouteOpenAPI + redoc.InitPath
)

// apiDocs serves the Redoc page (/v1/api), the document and Redoc's files under it.
func (s *Server) apiDocs(w http.ResponseWriter, r *http.Request) { apiDocsPage.ServeHTTP(w, r) }

func serveRedocJS(w http.ResponseWriter, r *http.Request) { apiDocsPage.ServeHTTP(w, r) }
