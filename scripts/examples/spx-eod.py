#!/usr/bin/env python3
"""Writes examples/spx-eod.csv: a small SPX/SPXW end-of-day chain in the layout of
`replay --format eod-chain` (docs/markets.md), priced with Black-76 on a skewed smile and quoted
with a spread of a tick or 1 %, as a vendor's 15:45 snapshot would be. Illustrative numbers, not
market data. Usage: scripts/examples/spx-eod.py > examples/spx-eod.csv"""
import math
from datetime import datetime, timezone, timedelta

N = lambda x: 0.5 * math.erfc(-x / math.sqrt(2))
EDT = timezone(timedelta(hours=-4))
quoted = datetime(2025, 3, 12, 15, 45, tzinfo=EDT)
spot, rate, div = 5599.30, 0.04, 0.013
series = [
    ("SPXW", "2025-03-14", datetime(2025, 3, 14, 16, 0, tzinfo=EDT)),
    ("SPXW", "2025-03-21", datetime(2025, 3, 21, 16, 0, tzinfo=EDT)),
    ("SPX", "2025-03-21", datetime(2025, 3, 21, 9, 30, tzinfo=EDT)),
]
print("quote_time,underlying,underlying_price,root,expiry,strike,right,bid,ask,last,volume,oi,vendor_iv")
for root, expiry, settles in series:
    t = (settles - quoted).total_seconds() / (365 * 86400)
    f = spot * math.exp((rate - div) * t)
    for k in range(5500, 5701, 25):
        m = math.log(k / f)
        vol = 0.15 + 0.3 * t - 0.5 * m + 2 * m * m
        d1 = (math.log(f / k) + 0.5 * vol * vol * t) / (vol * math.sqrt(t))
        d2 = d1 - vol * math.sqrt(t)
        df = math.exp(-rate * t)
        for right in ("call", "put"):
            p = df * (f * N(d1) - k * N(d2)) if right == "call" else df * (k * N(-d2) - f * N(-d1))
            half = max(0.05, round(p * 0.005 / 0.05) * 0.05)
            mid = round(p / 0.05) * 0.05
            bid, ask = max(0.05, mid - half), mid + half
            oi = int(20000 * math.exp(-400 * m * m)) + 100
            print(f"{quoted.isoformat()},SPX,{spot},{root},{expiry},{k},{right},{bid:.2f},{ask:.2f},{mid:.2f},{oi // 10},{oi},{vol:.4f}")
