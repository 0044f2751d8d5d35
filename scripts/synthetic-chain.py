#!/usr/bin/env python3
"""A synthetic NIFTY option chain in the tidy NSE layout (`replay --format nse-chain`).

    scripts/synthetic-chain.py [--days 5] [--strikes 50] [--start 2026-10-05] [--seed 7] > chain.csv

One snapshot a minute from 09:16 to 15:30 IST (the replay stamps each a minute earlier: the 375
minutes of the session), on consecutive weekdays from --start, of --strikes strikes 50 points
apart around 25 000 on both rights, all on one monthly expiry (the last Tuesday of the month after
the last day's week). The underlying walks randomly (0.03 % a minute); each option is priced by
Black-Scholes on a smile (12 % at the money) that drifts, rounded to the 0.05 tick; bid and ask a
tick or two around it; volume and open interest grow as a day's trading does. The same seed gives
the same file. The figures in docs/benchmarks.md ("History at a year's scale") use the defaults.
"""
import argparse
import datetime as dt
import math
import random
import sys

TICK = 0.05


def ncdf(x):
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def price(spot, strike, t, vol, rate, call):
    fwd = spot * math.exp(rate * t)
    sd = vol * math.sqrt(t)
    d1 = (math.log(fwd / strike) + 0.5 * sd * sd) / sd
    d2 = d1 - sd
    df = math.exp(-rate * t)
    if call:
        return df * (fwd * ncdf(d1) - strike * ncdf(d2))
    return df * (strike * ncdf(-d2) - fwd * ncdf(-d1))


def tick(x):
    return max(TICK, round(x / TICK) * TICK)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=int, default=5)
    ap.add_argument("--strikes", type=int, default=50)
    ap.add_argument("--start", default="2026-10-05")
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    days = []
    d = dt.date.fromisoformat(a.start)
    while len(days) < a.days:
        if d.weekday() < 5:
            days.append(d)
        d += dt.timedelta(days=1)
    # The last Tuesday of the month after the last day's week.
    after = days[-1] + dt.timedelta(days=7)
    month_end = (after.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    expiry = month_end - dt.timedelta(days=(month_end.weekday() - 1) % 7)
    expiry_close = dt.datetime.combine(expiry, dt.time(15, 30))
    strikes = [25000 + 50 * (i - a.strikes // 2) for i in range(a.strikes)]
    rate = 0.065
    spot = 25000.0
    level = 0.12
    out = sys.stdout
    out.write("snapshot_ist,symbol,expiry,strike,option_type,ltp,bid,ask,volume_contracts,oi_qty,underlying_spot\n")
    oi = {(k, r): 75 * rnd.randint(200, 4000) for k in strikes for r in ("CE", "PE")}
    for day in days:
        volume = {(k, r): 0 for k in strikes for r in ("CE", "PE")}
        for m in range(375):
            snap = dt.datetime.combine(day, dt.time(9, 16)) + dt.timedelta(minutes=m)
            spot = round(spot * math.exp(rnd.gauss(0.0, 0.0003)) / TICK) * TICK
            level = min(0.3, max(0.06, level + rnd.gauss(0.0, 0.0004)))
            t = (expiry_close - (snap - dt.timedelta(minutes=1))).total_seconds() / (365.0 * 86400.0)
            fwd = spot * math.exp(rate * t)
            for k in strikes:
                m_ = math.log(k / fwd)
                vol = level + 0.8 * m_ * m_ - 0.05 * m_
                for r in ("CE", "PE"):
                    p = tick(price(spot, k, t, vol, rate, r == "CE"))
                    spread = TICK * rnd.randint(1, 3)
                    bid = max(TICK, round((p - spread) / TICK) * TICK)
                    ask = round((p + spread) / TICK) * TICK
                    volume[(k, r)] += rnd.randint(0, 40)
                    oi[(k, r)] = max(75, oi[(k, r)] + 75 * rnd.randint(-3, 4))
                    out.write(
                        f"{snap:%Y-%m-%d %H:%M},NIFTY,{expiry},{k},{r},{p:.2f},{bid:.2f},{ask:.2f},"
                        f"{volume[(k, r)]},{oi[(k, r)]},{spot:.2f}\n"
                    )


if __name__ == "__main__":
    main()
