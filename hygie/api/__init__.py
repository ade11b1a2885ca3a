"""The FHIR REST API: read, search, writes, Bulk Data export, SMART authorization, audit trail.

Entry points: :func:`hygie.api.server.serve` runs the server; :mod:`hygie.api.clients` registers
SMART Backend Services clients; :mod:`hygie.api.audit` verifies and exports the audit trail.
"""
