"""conformance: replay the OASIS KMIP test-case files against a server.

Theory of operation.  A test-case file (``<KMIP>`` or ``<KmipTestCase>``) is
a time sequence of request messages, each followed by the response a
conformant server returns.  :mod:`conformance.cases` reads a file into
exchanges; :mod:`conformance.bindings` turns each request into bytes that can
be sent (placeholders such as ``$NOW-3600`` or ``$UNIQUE_IDENTIFIER_0``
replaced by run-time values) and remembers what the server answered;
:mod:`conformance.compare` checks an actual response against the expected one
under the profiles' "Permitted Test Case Variations", whose every rule lives
in :mod:`conformance.rules`; :mod:`conformance.transport` carries bytes to a
server (TLS to ``kmsd serve``, or the executor in process);
:mod:`conformance.runner` ties these together per file, and
:mod:`conformance.report` / :mod:`conformance.expected` print the results and
the committed expectations.  ``python -m conformance run PATH…`` is the entry.
"""
