#!/usr/bin/env python3
"""Runs every SQL statement mesure sends on a current ClickHouse, embedded through chdb-core.

    python3 scripts/chdb_check.py [path/to/mesure]

The tests run against Debian's ClickHouse 18.16; this proves the same migrations, retention,
erasure and stats SQL also run on the ClickHouse release chdb-core embeds (26.x), with the SQL
that `store::dialect` chooses for that version (for example the retention TTL). Prints one line
per statement and a closing 'N passed, N failed' line; exits non-zero on any failure.
"""
import json
import subprocess
import sys
import tempfile

from chdb import session

binary = sys.argv[1] if len(sys.argv) > 1 else "target/debug/mesure"

with tempfile.TemporaryDirectory(prefix="mesure-chdb-") as path:
    db = session.Session(path)
    version = str(db.query("SELECT version()", "CSV")).strip().strip('"')
    catalog = subprocess.run([binary, "sql-catalog", "--server-version", version], check=True, capture_output=True, text=True)
    statements = [json.loads(line) for line in catalog.stdout.splitlines() if line.strip()]
    db.query("CREATE DATABASE IF NOT EXISTS mesure")
    db.query("USE mesure")
    passed = failed = 0
    for statement in statements:
        try:
            db.query(statement["sql"], "CSV")
            print(f"ok      {statement['name']}")
            passed += 1
        except Exception as error:  # chdb raises its own error type
            print(f"FAILED  {statement['name']}: {error}\n{statement['sql']}")
            failed += 1
    # The retention statements really removed the expired sample row and kept the recent one.
    left = str(db.query("SELECT groupArray(url_path) FROM events", "CSV")).strip()
    if "/old" in left or "/new" not in left:
        print(f"FAILED  retention effect on ClickHouse {version}: rows left {left}")
        failed += 1
    else:
        passed += 1
    ttl = str(db.query("SELECT create_table_query FROM system.tables WHERE database = 'mesure' AND name = 'events'", "CSV"))
    print(f"ClickHouse {version}: events table {'has' if 'TTL' in ttl else 'has no'} a TTL")
    print(f"chdb: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
