"""One option, three ways out, one vocabulary: the REST answer (`GET /api/v2/realtime/greeks/{key}`),
the `greeks:{key}` WebSocket update and the SDK's `RealtimeGreeks` model hold the same field names
with the same values.

The REST answer adds `stale`, `stale_after_seconds` and `conventions` (it explains itself); the
update adds `kind`; nothing else may differ. The simulated feed ticks every second, so the update
and the REST read are retried until both are of the same minute and tick.

Run by .ci/api-checks against `signal-service serve` on the embedded default.
Usage: python vocabulary.py BASE_URL   (e.g. http://127.0.0.1:8080)
"""

import asyncio
import json
import sys

import httpx
import websockets

from signal_service_client import Client
from signal_service_client.api.realtime import get_realtime_chain, get_realtime_greeks

REST_ONLY = {"stale", "stale_after_seconds", "conventions"}


def fail(what):
    sys.exit(f"FAILED: {what}")


async def main(base_url):
    client = Client(base_url=base_url, timeout=30.0, raise_on_unexpected_status=True)
    chain = get_realtime_chain.sync(underlying="NSE:NIFTY", client=client)
    key = next(s.call.instrument_key for s in chain.strikes if s.strike == chain.meta.atm_strike)
    ws_url = base_url.replace("http", "ws", 1) + "/api/v2/subscriptions/websocket"
    async with websockets.connect(ws_url) as ws:
        await ws.send(json.dumps({"action": "subscribe", "topics": [f"greeks:{key}"]}))
        ack = json.loads(await ws.recv())
        if ack.get("accepted") != [f"greeks:{key}"]:
            fail(f"the subscription was not accepted: {ack}")
        for attempt in range(20):
            frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if frame.get("type") != "data" or frame.get("data") is None:
                continue
            update = dict(frame["data"])
            rest = httpx.get(f"{base_url}/api/v2/realtime/greeks/{key}", timeout=10).json()
            model = get_realtime_greeks.sync(instrument_key=key, client=client).to_dict()
            if update.get("as_of") != rest.get("as_of") or update.get("greeks") != rest.get("greeks"):
                continue  # a newer tick landed between the two reads: take the next update
            if model != rest:
                fail(f"the SDK model differs from the REST answer:\n{model}\n{rest}")
            if update.pop("kind", None) != "greeks":
                fail(f"the update's kind: {frame}")
            bare = {k: v for k, v in rest.items() if k not in REST_ONLY}
            if update != bare:
                diff = sorted(k for k in set(update) | set(bare) if update.get(k) != bare.get(k))
                fail(f"the update differs from the REST answer (fields {diff}):\n{update}\n{bare}")
            units = rest["greeks"]
            for name in ("theta_per_day", "vega_per_vol_point", "rho_per_rate_point"):
                if not isinstance(units.get(name), float):
                    fail(f"{name} missing: {units}")
            print(f"ok: {key}: REST, WebSocket and SDK agree on {len(bare)} fields "
                  f"({', '.join(sorted(bare))}) after {attempt + 1} update(s)")
            return
    fail("no update matched the REST answer in 20 tries")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
