"""The audit record schema: which events exist and which fields they may carry.

Theory of operation: a record is built field by field from facts the
server already has in hand (who, from where, which operation, which object
identifiers, what result), never by dumping a payload or a message.  The
:data:`ALLOWED_FIELDS` set is enforced by the ``allow_listed`` processor as
a second line of defence: a field that is not listed never reaches a sink,
whoever put it in the event.  Key material, plaintext, ciphertext,
passwords and tokens have no field here, so they have no way in.

Fields (all optional except ``event``, ``time``, ``seq``, ``prev``):

========================  ==================================================
``v``                     schema version (:data:`SCHEMA_VERSION`)
``seq``, ``prev``         the hash chain (:mod:`kmsd.audit.chain`)
``time``                  UTC, ISO 8601 with microseconds, ``Z`` suffix
``event``                 one of the ``EVENT_*`` names below
``request_id``            shared by the batch items of one request message
``item``, ``items``       the batch item's index (from 0) and the batch size
``user``                  the caller's identity, when known
``auth``                  the means the caller presented: ``mtls`` (client
                          certificate), ``credential`` (KMIP Authentication:
                          password, token, JWT), ``mtls+credential``, or
                          ``default`` (--insecure's default user)
``source``                the client's address (``host:port``)
``protocol``, ``version`` ``kmip`` and ``"2.1"``
``operation``             the KMIP operation's name (``Create``)
``object_ids``            unique identifiers the item named, read or wrote
``object_types``          their object types' names (``Symmetric Key``)
``result``                ``success``, ``failure``, ``undone``, ``pending``,
                          ``not_executed`` (after a failed item with Stop)
``reason``                the Result Reason's name on failure
``message``               the server's Result Message on failure (truncated)
``duration_ms``           time spent on the item, commit included for the last
``detail``                why a connection was refused (security events)
``key_id``, ``covers``,   MAC records only (:mod:`kmsd.audit.chain`)
``mac``
========================  ==================================================
"""

from __future__ import annotations

SCHEMA_VERSION = 1

EVENT_OPERATION = "kmip.operation"
#: The item failed because the caller may not use the object (it exists, is not theirs).
EVENT_PERMISSION_DENIED = "kmip.permission_denied"
#: A request arrived on a connection that identified nobody.
EVENT_AUTHENTICATION_FAILURE = "kmip.authentication_failure"
#: The message was refused as a whole (unsupported version, malformed header).
EVENT_REQUEST_REFUSED = "kmip.request_refused"
EVENT_TLS_HANDSHAKE_FAILURE = "tls.handshake_failure"
#: The handshake completed but the certificate names no usable identity.
EVENT_TLS_AUTHENTICATION_FAILURE = "tls.authentication_failure"

#: Longest ``message`` kept: enough for a reason, too short to carry a payload.
MAX_MESSAGE = 200
#: Most ``object_ids`` listed in one record (a Locate may find thousands).
MAX_OBJECT_IDS = 100

ALLOWED_FIELDS = frozenset(
    {
        "v",
        "seq",
        "prev",
        "time",
        "event",
        "request_id",
        "item",
        "items",
        "user",
        "auth",
        "source",
        "protocol",
        "version",
        "operation",
        "object_ids",
        "object_ids_total",
        "object_types",
        "result",
        "reason",
        "message",
        "duration_ms",
        "detail",
        "key_id",
        "covers",
        "mac",
    }
)
