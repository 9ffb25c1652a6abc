"""The OpenAPI 3.0 description of the HTTP API, written by hand (served at ``/openapi.json``).

Kept beside the routes it describes; ``tests/test_http_api.py`` checks that
every route of the application appears here and runs schemathesis against
it (no 5xx, no response contradicting these schemas).
"""

from __future__ import annotations

from typing import Any

_ERROR = {"$ref": "#/components/schemas/Error"}
_OPERATIONS = {"type": "array", "items": {"type": "string"}}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    text = {
        400: "Malformed request",
        401: "No or failing credentials",
        403: "Forbidden (not the owner, cross-origin, or CSRF token missing)",
        404: "No such object (or one the caller may not know about)",
        413: "Body too large",
        415: "Unsupported content type",
    }
    return {str(s): _json(_ERROR, text[s]) for s in statuses}


_ACCESS_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Access"}}},
}
#: A client certificate presented in the TLS handshake also authenticates (OpenAPI 3.0 cannot say so).
_AUTHED: list[dict[str, list[str]]] = [{"bearer": []}, {"session": []}]
_KMIP_TYPES = {
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
    "text/xml": {"schema": {"type": "string"}},
    "application/json": {"schema": {"type": "object"}},
}


def openapi_document(version: str) -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "kmsd HTTP API",
            "version": version,
            "description": "KMIP over HTTPS (binary, XML, JSON), the Cosmian KMS JSON TTLV API, access "
            'management and operational endpoints.  Errors: {"error": {"code", "message"}}.',
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "JWT or API token"},
                "session": {"type": "apiKey", "in": "cookie", "name": "kmsd_session"},
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                        }
                    },
                },
                "Access": {
                    "type": "object",
                    "required": ["unique_identifier", "user_id", "operation_types"],
                    "properties": {
                        "unique_identifier": {"type": "string", "minLength": 1},
                        "user_id": {"type": "string", "minLength": 1},
                        "operation_types": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "Health": {
                    "type": "object",
                    "required": ["status", "store"],
                    "properties": {"status": {"type": "string"}, "store": {"type": "string"}},
                },
                "Success": {"type": "object", "required": ["success"], "properties": {"success": {"type": "string"}}},
                "TTLV": {
                    "type": "object",
                    "required": ["tag"],
                    "properties": {"tag": {"type": "string"}, "type": {"type": "string"}, "value": {}},
                },
            },
        },
        "security": _AUTHED,
        "paths": {
            "/kmip": {
                "post": {
                    "summary": "One KMIP request message (any protocol version), answered in the same encoding",
                    "requestBody": {"required": True, "content": _KMIP_TYPES},
                    "responses": {
                        "200": {"description": "The KMIP response message", "content": _KMIP_TYPES},
                        **_errors(400, 401, 403, 413, 415),
                    },
                }
            },
            "/kmip/2_1": {
                "post": {
                    "summary": "Cosmian KMS JSON TTLV: a bare operation or a RequestMessage",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TTLV"}}},
                    },
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/TTLV"}, "The response payload or message"),
                        "422": {
                            "description": "KMIP error as Cosmian renders it: '<Reason>: <message>'",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        },
                        **_errors(400, 401, 403, 413),
                    },
                }
            },
            "/access/grant": {
                "post": {
                    "summary": (
                        "Grant operations on an object to a user ('*': everyone); owner only."
                        " unique_identifier '*' with ['create']: the create right (privileged users only)"
                    ),
                    "requestBody": _ACCESS_BODY,
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/Success"}, "Granted"),
                        **_errors(400, 401, 403, 404, 413),
                    },
                }
            },
            "/access/revoke": {
                "post": {
                    "summary": "Revoke operations on an object from a user; owner only",
                    "requestBody": _ACCESS_BODY,
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/Success"}, "Revoked"),
                        **_errors(400, 401, 403, 404, 413),
                    },
                }
            },
            "/access/list/{id}": {
                "get": {
                    "summary": "Who holds which rights on an object; owner only",
                    "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "responses": {
                        "200": _json(
                            {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["user_id", "operations"],
                                    "properties": {"user_id": {"type": "string"}, "operations": _OPERATIONS},
                                },
                            },
                            "The grants",
                        ),
                        **_errors(401, 403, 404),
                    },
                }
            },
            "/access/owned": {
                "get": {
                    "summary": "Objects the caller owns",
                    "responses": {
                        "200": _json(
                            {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["object_id", "state", "attributes"],
                                    "properties": {
                                        "object_id": {"type": "string"},
                                        "state": {"type": "string"},
                                        "attributes": {"type": "object"},
                                    },
                                },
                            },
                            "Owned objects",
                        ),
                        **_errors(401),
                    },
                }
            },
            "/access/obtained": {
                "get": {
                    "summary": "Objects others granted the caller rights on",
                    "responses": {
                        "200": _json(
                            {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["object_id", "owner_id", "state", "operations"],
                                    "properties": {
                                        "object_id": {"type": "string"},
                                        "owner_id": {"type": "string"},
                                        "state": {"type": "string"},
                                        "operations": _OPERATIONS,
                                    },
                                },
                            },
                            "Obtained rights",
                        ),
                        **_errors(401),
                    },
                }
            },
            "/access/privileged": {
                "get": {
                    "summary": "Whether the caller may create and import objects (--privileged-users)",
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["has_privileged_access"],
                                "properties": {
                                    "has_privileged_access": {"type": "boolean"},
                                    # Only to privileged users (who manage the create right).
                                    "privileged_users": {"type": "array", "items": {"type": "string"}},
                                    "create_grants": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "properties": {
                                                "user_id": {"type": "string"},
                                                "granted_by": {"type": "string"},
                                            },
                                        },
                                    },
                                },
                            },
                            "Privilege",
                        ),
                        **_errors(401),
                    },
                }
            },
            "/health": {
                "get": {
                    "summary": "Liveness and the store's state",
                    "security": [],
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/Health"}, "Healthy"),
                        "503": _json({"$ref": "#/components/schemas/Health"}, "A dependency is down"),
                    },
                }
            },
            "/version": {
                "get": {
                    "summary": "Server version",
                    "security": [],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["version"],
                                "properties": {"version": {"type": "string"}, "server": {"type": "string"}},
                            },
                            "Version",
                        )
                    },
                }
            },
            "/server-info": {
                "get": {
                    "summary": "Version, KMIP versions, listeners, authentication methods",
                    "responses": {"200": _json({"type": "object"}, "Server information"), **_errors(401)},
                }
            },
            "/me": {
                "get": {
                    "summary": "Who the server thinks the caller is",
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["user", "authenticated_by"],
                                "properties": {
                                    "user": {"type": "string"},
                                    "authenticated_by": {"type": "string"},
                                    "certificate_identity": {"type": "string", "nullable": True},
                                    "may_create": {"type": "boolean"},
                                },
                            },
                            "The caller",
                        ),
                        **_errors(401),
                    },
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics (text format 0.0.4)",
                    "security": [],
                    "responses": {
                        "200": {"description": "Metrics", "content": {"text/plain": {"schema": {"type": "string"}}}},
                        **_errors(404),
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "security": [],
                    "responses": {"200": _json({"type": "object"}, "OpenAPI 3.0 document")},
                }
            },
        },
    }
