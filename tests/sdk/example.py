"""A quant's first script against the Signal Service, with the Python SDK generated from
openapi/signal-service.json: the nearest NIFTY chain, its smile, today's 5-minute candles, an
indicator by column name, and an error handled. docs/sdk.md walks through it.

CI runs it (.ci/api-checks) against `signal-service serve` on the embedded default, whose
simulated market is ticking, and fails when a check below fails.

Usage: python example.py BASE_URL   (e.g. http://localhost:8080; the paths carry /api/v2)
"""

import datetime as dt
import sys
import time
from zoneinfo import ZoneInfo

from signal_service_client import Client
from signal_service_client.api.historical import get_historical_candles
from signal_service_client.api.realtime import get_realtime_chain, get_realtime_indicator
from signal_service_client.models import ErrorBody
from signal_service_client.types import UNSET

NIFTY = "NSE:NIFTY"
IST = ZoneInfo("Asia/Kolkata")


def check(cond, what):
    if not cond:
        sys.exit(f"FAILED: {what}")


def main(base_url):
    client = Client(base_url=base_url, timeout=30.0, raise_on_unexpected_status=True)

    # 1. The nearest expiry's chain (the first evaluation lands a second after start).
    for _ in range(60):
        chain = get_realtime_chain.sync(underlying=NIFTY, client=client)
        if not isinstance(chain, ErrorBody):
            break
        time.sleep(0.5)
    check(not isinstance(chain, ErrorBody), f"a chain: {chain}")
    meta = chain.meta
    print(f"{NIFTY} {meta.expiry}: forward {meta.forward.value:.2f} ({meta.forward.source}), "
          f"ATM {meta.atm_strike}, as of {meta.as_of} (stale: {chain.meta.stale}, "
          f"i.e. more than {meta.stale_after_seconds} s behind the server clock)")

    # 2. The smile: each strike's out-of-the-money IV (puts below the forward, calls above).
    smile = {}
    for s in chain.strikes:
        option = s.put if s.strike < meta.forward.value else s.call
        if option is not UNSET and isinstance(option.iv, float):
            smile[s.strike] = option.iv
    for strike, iv in sorted(smile.items()):
        print(f"  {strike:>8.0f}  {iv:6.2%}")
    check(len(smile) >= 5, f"a smile of {len(smile)} strikes")
    check(all(0.01 < iv < 2.0 for iv in smile.values()), "IVs are decimals per √year")

    # 3. Today's 5-minute candles: `from`/`to` take the exchange-local day.
    today = meta.as_of.astimezone(IST).date()
    page = get_historical_candles.sync(
        instrument_key=NIFTY, client=client, from_=today, to=today, timeframe="5m"
    )
    check(not isinstance(page, ErrorBody), f"candles: {page}")
    for c in page.candles[:3]:
        print(f"  {c.start.astimezone(IST):%H:%M}  O {c.open_:.2f} H {c.high:.2f} "
              f"L {c.low:.2f} C {c.close:.2f}  ({c.n_bars}/{c.expected_bars} minutes)")
    check(len(page.candles) >= 1, f"{len(page.candles)} candles on {today}")
    check(page.candles[0].start.astimezone(IST).time() == dt.time(9, 15), "the first bucket opens the session")

    # 4. An indicator in the WebSocket's and CLI's syntax, read by column name.
    ema = get_realtime_indicator.sync(instrument_key=NIFTY, indicator="ema:2", timeframe="1m", client=client)
    check(not isinstance(ema, ErrorBody), f"an indicator: {ema}")
    point = ema.closed if ema.closed is not UNSET else ema.forming
    column = ema.meta.columns[0]
    value = point.by_column[column]
    print(f"  {column} at {point.start.astimezone(IST):%H:%M}: {value}")
    check(column == "ema_2" and value == point.values[0], "by_column names the positional values")

    # 5. An error, handled: the answer is an ErrorBody naming the parameter to blame.
    gone = get_realtime_chain.sync(underlying=NIFTY, expiry=dt.date(2001, 1, 25), client=client)
    if isinstance(gone, ErrorBody):
        print(f"  no such chain: {gone.code} on '{gone.field}': {gone.message}")
    check(isinstance(gone, ErrorBody) and gone.code == "not_found" and gone.field == "expiry",
          f"an unknown expiry is a 404 naming `expiry`: {gone}")
    print("sdk example passed")


if __name__ == "__main__":
    main(sys.argv[1])
