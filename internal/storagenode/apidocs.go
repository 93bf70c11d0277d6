package storagenode

import (
	"net/http"

	api "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/internal/redoc"
)

// nodeAPIDocs is the node's API page at /v1/api (Redoc over the OpenAPI document below), as
// Walrus's storage node serves it.
var nodeAPIDocs = &redoc.Docs{Title: "Floe storage node API", Base: api.RouteAPIDocs, Spec: []byte(nodeOpenAPI)}

// routeAPIDocs registers the page, its document and Redoc's files.
func (n *Node) routeAPIDocs(route func(method, pattern string, h func(http.ResponseWriter, *http.Request) error)) {
	for _, p := range nodeAPIDocs.Paths() {
		route("GET", p, func(w http.ResponseWriter, r *http.Request) error {
			nodeAPIDocs.ServeHTTP(w, r)
			return nil
		})
	}
}

// nodeOpenAPI describes the node's routes (OpenAPI 3.0); BCS bodies are octet streams whose
// layouts spec §4 gives, JSON answers are in Walrus's success and error envelopes.
const nodeOpenAPI = `{
  "openapi": "3.0.3",
  "info": {"title": "Floe storage node (Walrus storage node API)", "version": "1"},
  "tags": [{"name": "Storing blobs"}, {"name": "Reading blobs"}, {"name": "Recovery"}, {"name": "Status"}],
  "paths": {
    "/v1/blobs/{blob_id}/metadata": {
      "get": {"tags": ["Reading blobs"], "summary": "Get a blob's metadata (BCS BlobMetadataWithId)", "parameters": [{"$ref": "#/components/parameters/BlobID"}],
        "responses": {"200": {"$ref": "#/components/responses/BCS"}, "404": {"$ref": "#/components/responses/Error"}, "451": {"$ref": "#/components/responses/Error"}}},
      "put": {"tags": ["Storing blobs"], "summary": "Store a registered blob's metadata (BCS BlobMetadata); pending=true buffers it until the registration arrives",
        "parameters": [{"$ref": "#/components/parameters/BlobID"}, {"$ref": "#/components/parameters/Pending"}], "requestBody": {"$ref": "#/components/requestBodies/BCS"},
        "responses": {"200": {"$ref": "#/components/responses/Message"}, "201": {"$ref": "#/components/responses/Message"}, "202": {"$ref": "#/components/responses/Message"}, "400": {"$ref": "#/components/responses/Error"}}}},
    "/v1/blobs/{blob_id}/metadata/status": {"get": {"tags": ["Status"], "summary": "Whether the metadata is stored (StoredOnNodeStatus)", "parameters": [{"$ref": "#/components/parameters/BlobID"}],
      "responses": {"200": {"$ref": "#/components/responses/JSON"}}}},
    "/v1/blobs/{blob_id}/slivers/{sliver_pair_index}/{sliver_type}": {
      "get": {"tags": ["Reading blobs"], "summary": "Get a sliver (BCS SliverData)", "parameters": [{"$ref": "#/components/parameters/BlobID"}, {"$ref": "#/components/parameters/Pair"}, {"$ref": "#/components/parameters/SliverType"}],
        "responses": {"200": {"$ref": "#/components/responses/BCS"}, "404": {"$ref": "#/components/responses/Error"}, "451": {"$ref": "#/components/responses/Error"}}},
      "put": {"tags": ["Storing blobs"], "summary": "Store a sliver (BCS SliverData)", "parameters": [{"$ref": "#/components/parameters/BlobID"}, {"$ref": "#/components/parameters/Pair"}, {"$ref": "#/components/parameters/SliverType"}, {"$ref": "#/components/parameters/Pending"}],
        "requestBody": {"$ref": "#/components/requestBodies/BCS"},
        "responses": {"200": {"$ref": "#/components/responses/Message"}, "201": {"$ref": "#/components/responses/Message"}, "202": {"$ref": "#/components/responses/Message"}, "400": {"$ref": "#/components/responses/Error"}}}},
    "/v1/blobs/{blob_id}/slivers/{sliver_pair_index}/{sliver_type}/status": {"get": {"tags": ["Status"], "summary": "Whether a sliver is stored (StoredOnNodeStatus)",
      "parameters": [{"$ref": "#/components/parameters/BlobID"}, {"$ref": "#/components/parameters/Pair"}, {"$ref": "#/components/parameters/SliverType"}], "responses": {"200": {"$ref": "#/components/responses/JSON"}}}},
    "/v1/blobs/{blob_id}/sliverBatch": {"put": {"tags": ["Storing blobs"], "summary": "Store many slivers of a blob in one request (Floe's framed batch)", "parameters": [{"$ref": "#/components/parameters/BlobID"}, {"$ref": "#/components/parameters/Pending"}],
      "requestBody": {"$ref": "#/components/requestBodies/BCS"}, "responses": {"200": {"$ref": "#/components/responses/JSON"}, "400": {"$ref": "#/components/responses/Error"}}}},
    "/v1/blobs/{blob_id}/confirmation/permanent": {"get": {"tags": ["Storing blobs"], "summary": "Signed storage confirmation of a permanent blob",
      "parameters": [{"$ref": "#/components/parameters/BlobID"}, {"$ref": "#/components/parameters/WaitForRegistration"}, {"$ref": "#/components/parameters/WaitMillis"}],
      "responses": {"200": {"$ref": "#/components/responses/JSON"}, "400": {"$ref": "#/components/responses/Error"}}}},
    "/v1/blobs/{blob_id}/confirmation/deletable/{object_id}": {"get": {"tags": ["Storing blobs"], "summary": "Signed storage confirmation of a deletable blob object",
      "parameters": [{"$ref": "#/components/parameters/BlobID"}, {"name": "object_id", "in": "path", "required": true, "schema": {"type": "string"}, "description": "0x-prefixed hex"},
        {"$ref": "#/components/parameters/WaitForRegistration"}, {"$ref": "#/components/parameters/WaitMillis"}],
      "responses": {"200": {"$ref": "#/components/responses/JSON"}, "400": {"$ref": "#/components/responses/Error"}}}},
    "/v1/blobs/{blob_id}/recoverySymbols": {"get": {"tags": ["Recovery"], "summary": "Recovery symbols with their proofs (BCS vector<GeneralRecoverySymbol>)",
      "parameters": [{"$ref": "#/components/parameters/BlobID"}, {"name": "id", "in": "query", "schema": {"type": "array", "items": {"type": "string"}}, "style": "form", "explode": true, "description": "symbol IDs P-S"},
        {"name": "targetSliver", "in": "query", "schema": {"type": "integer"}}, {"name": "targetType", "in": "query", "schema": {"$ref": "#/components/schemas/SliverType"}},
        {"name": "proofAxis", "in": "query", "schema": {"$ref": "#/components/schemas/SliverType"}}],
      "responses": {"200": {"$ref": "#/components/responses/BCS"}, "400": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"}, "503": {"$ref": "#/components/responses/Error"}}}},
    "/v1/blobs/{blob_id}/decodingSymbols": {"get": {"tags": ["Recovery"], "summary": "Decoding symbols (recovery symbols without proofs) towards target slivers (BCS map<u16, vector<EitherDecodingSymbol>>)",
      "parameters": [{"$ref": "#/components/parameters/BlobID"}, {"name": "targetSlivers", "in": "query", "required": true, "schema": {"type": "array", "items": {"type": "integer"}}, "style": "form", "explode": true},
        {"name": "targetType", "in": "query", "required": true, "schema": {"$ref": "#/components/schemas/SliverType"}}],
      "responses": {"200": {"$ref": "#/components/responses/BCS"}, "400": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"}, "503": {"$ref": "#/components/responses/Error"}}}},
    "/v1/blobs/{blob_id}/inconsistencyProof/{sliver_type}": {"post": {"tags": ["Recovery"], "summary": "Verify an inconsistency proof (BCS InconsistencyProof); answers the signed invalid-blob attestation",
      "parameters": [{"$ref": "#/components/parameters/BlobID"}, {"$ref": "#/components/parameters/SliverType"}], "requestBody": {"$ref": "#/components/requestBodies/BCS"},
      "responses": {"200": {"$ref": "#/components/responses/JSON"}, "400": {"$ref": "#/components/responses/Error"}}}},
    "/v1/blobs/{blob_id}/status": {"get": {"tags": ["Reading blobs"], "summary": "The blob's status as the node sees it (BlobStatus)", "parameters": [{"$ref": "#/components/parameters/BlobID"}],
      "responses": {"200": {"$ref": "#/components/responses/JSON"}}}},
    "/v1/health": {"get": {"tags": ["Status"], "summary": "The node's health (ServiceHealthInfo; latestCheckpointSequenceNumber is the control-plane height of the last event applied)",
      "parameters": [{"name": "detailed", "in": "query", "schema": {"type": "boolean"}}], "responses": {"200": {"$ref": "#/components/responses/JSON"}}}},
    "/v1/challenges/answer": {"post": {"tags": ["Recovery"], "summary": "A challenged node's signed answer (Floe extension, binary); answers this node's signed attestation (pass or fail)",
      "requestBody": {"$ref": "#/components/requestBodies/BCS"}, "responses": {"200": {"$ref": "#/components/responses/JSON"}, "400": {"$ref": "#/components/responses/Error"}}}},
    "/v1/migrate/sync_shard": {"post": {"tags": ["Recovery"], "summary": "Shard transfer to a new owner at an epoch change (BCS signed SyncShardRequest; answers a page of slivers)",
      "parameters": [{"name": "Authorization", "in": "header", "required": true, "schema": {"type": "string"}, "description": "base64 BLS public key"}],
      "requestBody": {"$ref": "#/components/requestBodies/BCS"}, "responses": {"200": {"$ref": "#/components/responses/BCS"}, "400": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"}}}},
    "/v1/api": {"get": {"tags": ["Status"], "summary": "This document as a Redoc page", "responses": {"200": {"description": "HTML", "content": {"text/html": {}}}}}}
  },
  "components": {
    "parameters": {
      "BlobID": {"name": "blob_id", "in": "path", "required": true, "schema": {"type": "string"}, "description": "URL-safe unpadded base64 (43 characters)"},
      "Pair": {"name": "sliver_pair_index", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 0}},
      "SliverType": {"name": "sliver_type", "in": "path", "required": true, "schema": {"$ref": "#/components/schemas/SliverType"}},
      "Pending": {"name": "pending", "in": "query", "schema": {"type": "boolean"}},
      "WaitForRegistration": {"name": "wait_for_registration", "in": "query", "schema": {"type": "boolean"}},
      "WaitMillis": {"name": "wait_millis", "in": "query", "schema": {"type": "integer"}}
    },
    "schemas": {"SliverType": {"type": "string", "enum": ["primary", "secondary"]}},
    "requestBodies": {"BCS": {"required": true, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}},
    "responses": {
      "BCS": {"description": "BCS bytes", "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
      "JSON": {"description": "{\"success\": {\"code\": ..., \"data\": ...}}", "content": {"application/json": {}}},
      "Message": {"description": "{\"success\": {\"code\": ..., \"data\": \"message\"}}", "content": {"application/json": {}}},
      "Error": {"description": "{\"error\": {\"code\", \"status\", \"message\", \"details\": [{\"@type\": \"ErrorInfo\", \"reason\", \"domain\"}]}}", "content": {"application/json": {}}}
    }
  }
}`
