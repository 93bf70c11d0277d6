package daemon

import (
	"net/http"
)

// openAPIDoc describes the routes this daemon serves (OpenAPI 3.0).
const openAPIDoc = `{
  "openapi": "3.0.3",
  "info": {"title": "Floe publisher and aggregator (Walrus client daemon API)", "version": "1"},
  "paths": {
    "/v1alpha/blobs/{blob_id}/stream": {"get": {
      "summary": "Stream a blob as its slivers arrive (alpha); X-Walrus-Streaming: true",
      "parameters": [{"$ref": "#/components/parameters/BlobID"}],
      "responses": {"200": {"$ref": "#/components/responses/Blob"}, "400": {"$ref": "#/components/responses/Error"},
        "404": {"$ref": "#/components/responses/Error"}, "451": {"$ref": "#/components/responses/Error"}, "503": {"$ref": "#/components/responses/Error"}}}},
    "/v1alpha/blobs/concat": {
      "get": {
        "summary": "Concatenate blobs given by blob IDs or blob object IDs, in order (alpha); the ETag is the base64url SHA-256 of the IDs joined by commas",
        "parameters": [{"name": "ids", "in": "query", "required": true, "schema": {"type": "string"}, "description": "comma-separated blob IDs or object IDs"},
          {"name": "strict_consistency_check", "in": "query", "schema": {"type": "boolean"}},
          {"name": "skip_consistency_check", "in": "query", "schema": {"type": "boolean"}}],
        "responses": {"200": {"$ref": "#/components/responses/Blob"}, "400": {"$ref": "#/components/responses/Error"},
          "404": {"$ref": "#/components/responses/Error"}, "451": {"$ref": "#/components/responses/Error"}, "503": {"$ref": "#/components/responses/Error"}}},
      "post": {
        "summary": "Concatenate blobs (alpha), the IDs in a JSON body",
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["ids"], "additionalProperties": false, "properties": {
          "ids": {"type": "array", "items": {"type": "string"}}, "strict_consistency_check": {"type": "boolean"}, "skip_consistency_check": {"type": "boolean"}}}}}},
        "responses": {"200": {"$ref": "#/components/responses/Blob"}, "400": {"$ref": "#/components/responses/Error"},
          "404": {"$ref": "#/components/responses/Error"}, "451": {"$ref": "#/components/responses/Error"}, "503": {"$ref": "#/components/responses/Error"}}}},
    "/v1/api/openapi.json": {"get": {"summary": "This document (the page at /v1/api renders it)", "responses": {"200": {"description": "OpenAPI 3"}}}},
    "/v1/blobs": {"put": {
      "summary": "Store a blob",
      "parameters": [
        {"name": "epochs", "in": "query", "schema": {"type": "integer", "format": "uint32", "minimum": 1, "default": 1}},
        {"name": "permanent", "in": "query", "schema": {"type": "boolean", "default": false}},
        {"name": "deletable", "in": "query", "schema": {"type": "boolean"}, "deprecated": true},
        {"name": "force", "in": "query", "schema": {"type": "boolean", "default": false}},
        {"name": "reuse_resources", "in": "query", "schema": {"type": "boolean"}},
        {"name": "encoding_type", "in": "query", "schema": {"type": "string", "enum": ["RS2"]}},
        {"name": "send_object_to", "in": "query", "schema": {"type": "string"}},
        {"name": "share", "in": "query", "schema": {"type": "boolean", "default": false}, "description": "make the new (permanent) blob object a shared one; excludes send_object_to"}
      ],
      "requestBody": {"required": true, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
      "responses": {
        "200": {"description": "newlyCreated or alreadyCertified", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/BlobStoreResult"}}}},
        "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"}, "451": {"$ref": "#/components/responses/Error"},
        "403": {"$ref": "#/components/responses/Error"}, "408": {"$ref": "#/components/responses/Error"},
        "413": {"$ref": "#/components/responses/Error"}, "429": {"$ref": "#/components/responses/Error"},
        "500": {"$ref": "#/components/responses/Error"}, "504": {"$ref": "#/components/responses/Error"}
      }}},
    "/v1/blobs/{blob_id}": {"get": {
      "summary": "Read a blob (a single Range bytes=a-b, bytes=a- or bytes=-n gives 206; several ranges are ignored)",
      "parameters": [{"$ref": "#/components/parameters/BlobID"},
        {"name": "Range", "in": "header", "schema": {"type": "string", "example": "bytes=0-99"}},
        {"name": "strict_consistency_check", "in": "query", "schema": {"type": "boolean"}},
        {"name": "skip_consistency_check", "in": "query", "schema": {"type": "boolean"}}],
      "responses": {"200": {"$ref": "#/components/responses/Blob"}, "206": {"$ref": "#/components/responses/Blob"},
        "400": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"}, "451": {"$ref": "#/components/responses/Error"},
        "416": {"$ref": "#/components/responses/Error"}, "429": {"$ref": "#/components/responses/Error"},
        "503": {"$ref": "#/components/responses/Error"}}}},
    "/v1/blobs/{blob_id}/byte-range": {"get": {
      "summary": "Read length bytes from start (200; the ETag is {blob_id}-{start}-{length})",
      "parameters": [{"$ref": "#/components/parameters/BlobID"},
        {"name": "start", "in": "query", "required": true, "schema": {"type": "integer", "format": "uint64"}},
        {"name": "length", "in": "query", "required": true, "schema": {"type": "integer", "format": "uint64"}}],
      "responses": {"200": {"$ref": "#/components/responses/Blob"}, "400": {"$ref": "#/components/responses/Error"},
        "404": {"$ref": "#/components/responses/Error"}, "503": {"$ref": "#/components/responses/Error"}}}},
    "/v1/blobs/by-object-id/{object_id}": {"get": {
      "summary": "Read the blob of a blob object; allowed attributes become headers",
      "parameters": [{"name": "object_id", "in": "path", "required": true, "schema": {"type": "string"}}],
      "responses": {"200": {"$ref": "#/components/responses/Blob"}, "404": {"$ref": "#/components/responses/Error"},
        "503": {"$ref": "#/components/responses/Error"}}}},
    "/v1/quilts": {"put": {
      "summary": "Store files as one quilt: one multipart field per file (the field name is its identifier), and an optional _metadata field [{\"identifier\", \"tags\"}]",
      "parameters": [{"name": "quilt_version", "in": "query", "schema": {"type": "string", "enum": ["v1", "V1", "1"]}},
        {"name": "epochs", "in": "query", "schema": {"type": "integer", "format": "uint32", "minimum": 1, "default": 1}},
        {"name": "permanent", "in": "query", "schema": {"type": "boolean", "default": false}},
        {"name": "force", "in": "query", "schema": {"type": "boolean", "default": false}},
        {"name": "send_object_to", "in": "query", "schema": {"type": "string"}}],
      "requestBody": {"required": true, "content": {"multipart/form-data": {"schema": {"type": "object"}}}},
      "responses": {
        "200": {"description": "the quilt's store result and its patches", "content": {"application/json": {"schema": {"type": "object", "properties": {
          "blobStoreResult": {"$ref": "#/components/schemas/BlobStoreResult"},
          "storedQuiltBlobs": {"type": "array", "items": {"type": "object", "properties": {"identifier": {"type": "string"}, "quiltPatchId": {"type": "string"}}}}}}}}},
        "400": {"$ref": "#/components/responses/Error"}, "413": {"$ref": "#/components/responses/Error"},
        "429": {"$ref": "#/components/responses/Error"}, "504": {"$ref": "#/components/responses/Error"}}}},
    "/v1/blobs/by-quilt-patch-id/{quilt_patch_id}": {"get": {
      "summary": "Read one quilt patch (only the columns it spans are fetched); X-Quilt-Patch-Identifier names it",
      "parameters": [{"name": "quilt_patch_id", "in": "path", "required": true, "schema": {"type": "string", "description": "URL-safe unpadded base64, 50 characters"}}],
      "responses": {"200": {"$ref": "#/components/responses/Blob"}, "206": {"$ref": "#/components/responses/Blob"},
        "400": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"}, "503": {"$ref": "#/components/responses/Error"}}}},
    "/v1/blobs/by-quilt-id/{quilt_id}/{identifier}": {"get": {
      "summary": "Read the patch of a quilt with an identifier (a slash in it as %2F)",
      "parameters": [{"name": "quilt_id", "in": "path", "required": true, "schema": {"type": "string"}},
        {"name": "identifier", "in": "path", "required": true, "schema": {"type": "string"}}],
      "responses": {"200": {"$ref": "#/components/responses/Blob"}, "206": {"$ref": "#/components/responses/Blob"},
        "400": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"}, "503": {"$ref": "#/components/responses/Error"}}}},
    "/v1/quilts/{quilt_id}/patches": {"get": {
      "summary": "The patches of a quilt",
      "parameters": [{"name": "quilt_id", "in": "path", "required": true, "schema": {"type": "string"}}],
      "responses": {"200": {"description": "the patches", "content": {"application/json": {"schema": {"type": "array", "items": {"type": "object", "properties": {
          "identifier": {"type": "string"}, "patch_id": {"type": "string"}, "tags": {"type": "object", "additionalProperties": {"type": "string"}}}}}}}},
        "404": {"$ref": "#/components/responses/Error"}, "503": {"$ref": "#/components/responses/Error"}}}},
    "/status": {"get": {"summary": "Liveness", "responses": {"200": {"description": "OK", "content": {"text/plain": {}}}}}},
    "/v1/api": {"get": {"summary": "This document as a Redoc page", "responses": {"200": {"description": "HTML", "content": {"text/html": {}}}}}}
  },
  "components": {
    "parameters": {"BlobID": {"name": "blob_id", "in": "path", "required": true, "schema": {"type": "string", "description": "URL-safe unpadded base64, 43 characters"}}},
    "responses": {
      "Blob": {"description": "the blob's bytes", "headers": {"ETag": {"schema": {"type": "string"}}, "Cache-Control": {"schema": {"type": "string"}}, "Content-Range": {"schema": {"type": "string"}},
        "Vary": {"schema": {"type": "string", "example": "Accept, Content-Type"}}, "Content-Security-Policy": {"schema": {"type": "string", "example": "sandbox"}}},
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
      "Error": {"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    },
    "schemas": {
      "BlobStoreResult": {"type": "object", "properties": {
        "newlyCreated": {"type": "object", "properties": {
          "blobObject": {"type": "object", "properties": {"id": {"type": "string"}, "registeredEpoch": {"type": "integer"}, "blobId": {"type": "string"},
            "size": {"type": "integer"}, "encodingType": {"type": "string"}, "certifiedEpoch": {"type": "integer", "nullable": true},
            "storage": {"type": "object", "properties": {"id": {"type": "string"}, "startEpoch": {"type": "integer"}, "endEpoch": {"type": "integer"}, "storageSize": {"type": "integer"}}},
            "deletable": {"type": "boolean"}}},
          "resourceOperation": {"type": "object"}, "cost": {"type": "integer"}}},
        "alreadyCertified": {"type": "object", "properties": {"blobId": {"type": "string"}, "event": {"type": "object"}, "object": {"type": "string"}, "endEpoch": {"type": "integer"}}}}},
      "Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {
        "code": {"type": "integer"}, "status": {"type": "string"}, "message": {"type": "string"},
        "details": {"type": "array", "items": {"type": "object", "properties": {"@type": {"type": "string"}, "reason": {"type": "string"}, "domain": {"type": "string"}}}}}}}}
    }
  }
}
`

// openAPI serves the OpenAPI document (/v1/api/openapi.json).
func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) { apiDocsPage.ServeHTTP(w, r) }
