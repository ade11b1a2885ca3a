"""Storage and engines: raw store, resource tables, runs, DuckDB (and later Spark) backends."""
