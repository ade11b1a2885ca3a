"""The privacy stage: from the identified care zone to the pseudonymized research zone.

Modules: ``keys`` (the project's secret key, outside the warehouse), ``policy`` and
``policy.toml`` (the allow-list), ``pseudonyms`` (keyed ids and date shifts), ``dates``,
``places``, ``text`` (French clinical text de-identification), ``transform`` (one resource),
``boundary`` (objections applied, the one way in), ``research`` (the build), ``objection``
(the registry), ``small_counts`` (suppression of aggregates), ``risk`` (k-anonymity and the
export guard), ``evaluation`` (text de-identification scores), ``commands`` (what the CLI calls).
See docs/privacy.md.
"""
