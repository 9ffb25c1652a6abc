"""The HTTP side of kmsd: KMIP over HTTPS, the Cosmian API, access management, the web console.

Layers, each knowing only the one below it:

* :mod:`.wire` — requests and responses as values; the one h11 loop (body
  limit, header/body timeouts, security headers), shared with
  :mod:`kmsd.metrics.http`.
* :mod:`.listener` — the trio listener: TLS with an optional client
  certificate (hypercorn would not pass it on), per-connection containment,
  bounded keep-alive, graceful shutdown.
* :mod:`.auth` and :mod:`.sessions` — who is calling (bearer token, session
  cookie, client certificate) through the one
  :class:`~kmsd.auth.authenticator.Authenticator`; HMAC-signed sessions and CSRF.
* :mod:`.app` — the route table and what wraps every handler (authentication,
  CSRF and Origin checks, audit records, metrics).
* Handlers: :mod:`.kmip_routes` (``POST /kmip`` in three encodings),
  :mod:`.cosmian` (``POST /kmip/2_1``), :mod:`.access_routes` (``/access/*``),
  :mod:`.info_routes` (health, version, metrics …), :mod:`.ui` (the console),
  :mod:`.openapi` (the document at ``/openapi.json``).
* :mod:`.service` — composition, called by :mod:`kmsd.server.serve`.
"""
