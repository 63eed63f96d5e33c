#!/usr/bin/env python3
"""Writes a large CSV of past reports in Houston's 311 layout, for the import memory
benchmark: `python3 scripts/big_reports_csv.py OUT.csv [MEGABYTES]` (1,024 unless given).

Rows are made up but shaped like the real export: unique case numbers, times over ten
years, a quarter without coordinates, Closed/Open statuses, quoted addresses with commas.
"""
import csv
import random
import sys

out = sys.argv[1]
target = int(sys.argv[2] if len(sys.argv) > 2 else 1024) * 1024 * 1024
rng = random.Random(42)
header = ["CASE NUMBER", "SR LOCATION", "SR TYPE", "STATUS", "SR CREATE DATE", "DATE CLOSED",
          "Title", "LATITUDE", "LONGITUDE", "Channel Type"]
with open(out, "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(header)
    n = 0
    while f.tell() < target:
        for _ in range(10_000):
            n += 1
            year = 2010 + rng.randrange(10)
            month = 1 + rng.randrange(12)
            day = 1 + rng.randrange(28)
            made = f"{year}-{month:02d}-{day:02d} {rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}"
            closed = rng.random() < 0.8
            done = f"{year}-{month:02d}-{min(28, day + 2):02d} 12:00:00" if closed else ""
            located = rng.random() > 0.25
            lat = f"{29.6 + rng.random() * 0.3:.6f}" if located else "Unknown"
            lon = f"{-95.6 + rng.random() * 0.4:.6f}" if located else "Unknown"
            writer.writerow([f"{n:010d}-{rng.randrange(10**12):012d}",
                             f"{rng.randrange(1, 9999)} MAIN ST, HOUSTON TX 770{rng.randrange(10, 99)}",
                             "Pothole", "Closed" if closed else "Open", made, done,
                             "Pothole - repair request from a resident on a busy street", lat, lon,
                             rng.choice(["WEB", "Voice In", "E-Mail", "App"])])
print(f"wrote {n} rows to {out}")
