"""Does one source sending many anonymous reports move an order up the crews' queue?

Picks the first open pothole order from rank 106 down (highest priority first), posts N reports at
its spot, waits for the priorities to be recomputed and prints the order's rank before
and after. `--devices` gives each report a device id of its own, as N different
residents would; without it the reports are anonymous, from this one address.

    python3 scripts/fairness_rank.py http://127.0.0.1:18399 300 [--devices]
"""

import json
import sys
import time
import urllib.parse
import urllib.request


def orders(base):
    """Every open order, highest priority first, as the crews' queue has them."""
    found = []
    for status in ("new", "assigned", "in_progress"):
        page = 1
        while True:
            url = f"{base}/api/v1/work-orders?status={status}&page_size=1000&page={page}"
            with urllib.request.urlopen(url) as answer:
                items = json.load(answer)["items"]
            found += items
            if len(items) < 1000:
                break
            page += 1
    return sorted(found, key=lambda o: (-o["priority"], o["id"]))


def rank_of(base, order_id):
    for rank, order in enumerate(orders(base), start=1):
        if order["id"] == order_id:
            return rank
    return None


def main():
    base, count = sys.argv[1], int(sys.argv[2])
    devices = "--devices" in sys.argv
    target = [o for o in orders(base) if o["service_code"] == "other"][-1]
    before = rank_of(base, target["id"])
    statuses = {}
    for i in range(count):
        form = {
            "service_code": "other",
            "lat": target["lat"],
            "long": target["lon"],
            "description": "Still there",
        }
        if devices:
            form["device_id"] = f"resident-{i}"
        data = urllib.parse.urlencode(form).encode()
        try:
            with urllib.request.urlopen(f"{base}/open311/v2/requests.json", data) as r:
                statuses[r.status] = statuses.get(r.status, 0) + 1
        except urllib.error.HTTPError as e:
            statuses[e.code] = statuses.get(e.code, 0) + 1
    time.sleep(5)  # the work-order task recomputes at most every 2 s
    after = rank_of(base, target["id"])
    mode = "distinct devices" if devices else "anonymous, one address"
    print(f"order {target['id']}: rank {before} -> {after} of {len(orders(base))} "
          f"after {count} reports "
          f"({mode}); answers {statuses}")


main()
