"""Uses the Python SDK generated from openapi/signal-service.json against a live server.

Run by .ci/api-checks with the server on the embedded default (its simulated feed ticking):
reads the catalogue, ingests a 1-minute candle, then reads realtime Greeks, a moneyness level,
the ATM IV, a historical page and an export. Exits non-zero on the first thing that is wrong.

Usage: python smoke.py BASE_URL   (e.g. http://127.0.0.1:8080; the paths carry /api/v2)
"""

import datetime as dt
import json
import sys
import time

from signal_service_client import AuthenticatedClient
# One module per resource (the document's tags).
from signal_service_client.api.historical import get_historical_candles
from signal_service_client.api.ingest import ingest_candles
from signal_service_client.api.instruments import list_underlyings
from signal_service_client.api.moneyness import get_realtime_atm_iv, get_realtime_moneyness_greeks
from signal_service_client.api.realtime import get_realtime_chain, get_realtime_greeks
from signal_service_client.models import CandleIn, Format

UNDERLYING = "NSE:NIFTY"


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {what}")


def main(base_url):
    # The ingest operations take the API key on the client (the ApiKeyAuth scheme): sent as
    # `X-API-Key`; this server has no keys configured, so any key is taken.
    client = AuthenticatedClient(
        base_url=base_url,
        token="no-key-configured",
        prefix="",
        auth_header_name="X-API-Key",
        timeout=30.0,
        raise_on_unexpected_status=True,
    )

    underlyings = list_underlyings.sync(client=client)
    check(any(u.key == UNDERLYING for u in underlyings.underlyings), "the catalogue lists NSE:NIFTY")

    # The feed prices the chain; the first evaluation lands with the first flush.
    chain = None
    for _ in range(60):
        chain = get_realtime_chain.sync(underlying=UNDERLYING, client=client)
        if chain is not None and hasattr(chain, "strikes") and any(s.call and s.call.iv for s in chain.strikes):
            break
        time.sleep(0.5)
    check(chain is not None and hasattr(chain, "strikes"), "a realtime chain is served")
    atm = chain.meta.atm_strike
    call = next(s.call for s in chain.strikes if s.strike == atm and s.call)
    check(call.iv is not None and call.iv > 0, f"the ATM call {call.instrument_key} has an IV")

    greeks = get_realtime_greeks.sync(instrument_key=call.instrument_key, client=client)
    check(greeks.iv is not None and 0.01 < greeks.iv < 2.0, f"realtime IV {greeks.iv}")
    check(greeks.greeks.delta is not None and 0.0 < greeks.greeks.delta < 1.0, "a call's delta is in (0, 1)")
    check(greeks.conventions.model in ("black76", "bsm"), "the conventions are named")

    # A candle for the first minute of the feed's session (a minute in the past, in a session).
    as_of = greeks.as_of
    session_open = as_of.replace(hour=3, minute=45, second=0, microsecond=0)
    spot = chain.meta.spot or chain.meta.forward.value
    candle = CandleIn(
        key=UNDERLYING,
        start=session_open,
        open_=spot,
        high=spot + 5.0,
        low=spot - 5.0,
        close=spot + 1.0,
        volume=0.0,
    )
    result = ingest_candles.sync(client=client, body=[candle])
    check(result.accepted == 1 and not result.rejected, f"one candle ingested: {result}")

    level = get_realtime_moneyness_greeks.sync(underlying=UNDERLYING, level="ATM", client=client)
    check(len(level.rights) == 2, "the ATM level has both rights")
    check(level.rights[0].aggregate.count >= 1, "the ATM calls are counted")

    atm_iv = get_realtime_atm_iv.sync(underlying=UNDERLYING, client=client)
    check(atm_iv.atm_iv is not None and atm_iv.atm_iv > 0, f"ATM IV {atm_iv.atm_iv}")

    end = session_open + dt.timedelta(hours=1)
    page = get_historical_candles.sync(
        instrument_key=UNDERLYING, client=client, from_=session_open, to=end, timeframe="5m", limit=2
    )
    check(len(page.candles) >= 1, f"a historical page of {len(page.candles)} 5m candles")
    check(page.candles[0].start == session_open, "the first 5m bucket starts at the session open")
    check(page.candles[0].high >= spot + 5.0, "the ingested candle is in its bucket")

    # The generated export operation decodes a binary body as text (an openapi-python-client bug
    # with non-JSON bodies), so the export goes through the SDK client's own HTTP session.
    export = client.get_httpx_client().get(
        "/api/v2/historical/export/candles",
        params={
            "instrument_key": UNDERLYING,
            "from": session_open.isoformat(),
            "to": end.isoformat(),
            "format": Format.NDJSON.value,
        },
        headers={"Accept-Encoding": "gzip"},
    )
    lines = [json.loads(line) for line in export.content.decode().splitlines() if line]
    check(export.status_code == 200 and len(lines) >= 1, f"an NDJSON export of {len(lines)} rows")
    check(lines[0]["start"].startswith(session_open.strftime("%Y-%m-%dT%H:%M")), "the export starts at the session open")
    print("sdk smoke test passed")


if __name__ == "__main__":
    main(sys.argv[1])
