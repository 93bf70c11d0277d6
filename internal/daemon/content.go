package daemon

import (
	"mime"
	"net/http"
	"strings"
)

// The content type a blob is served with comes from the request (Walrus's mirroring of
// Accept, else Content-Type), from the blob object's content-type attribute, or is sniffed from
// the blob's first bytes. Any of them can make a browser render something active (HTML, SVG,
// XML, scripts) on the aggregator's origin, where it could read and send requests as that
// origin. So a response whose type is not known to be passive carries
// "Content-Security-Policy: sandbox": a browser renders it in an opaque origin, without
// scripts, forms, popups or plugins. The passive types below are shown as they are.

// sandboxPolicy is the Content-Security-Policy of a response whose type may be active.
const sandboxPolicy = "sandbox"

// passiveType reports whether a browser renders a media type without running anything it
// contains: images (but SVG), audio, video, fonts, plain text, and a few data formats. Any
// other type, an unparseable one, or an XML one counts as active.
func passiveType(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || strings.HasSuffix(mt, "+xml") {
		return false
	}
	if major, _, _ := strings.Cut(mt, "/"); major == "image" || major == "audio" || major == "video" || major == "font" {
		return true
	}
	switch mt {
	case "text/plain", "text/csv", "application/octet-stream", "application/json", "application/pdf",
		"application/zip", "application/gzip", "application/x-gzip", "application/wasm":
		return true
	}
	return false
}

// setContentPolicy adds the sandbox policy to a response whose final Content-Type may be
// active.
func setContentPolicy(h http.Header) {
	if !passiveType(h.Get("Content-Type")) {
		h.Set("Content-Security-Policy", sandboxPolicy)
	}
}
