#!/usr/bin/python3
"""Reference publisher: how the design note's Python stack publishes a command.

pika's BlockingConnection with publisher confirms on (confirm_delivery()),
one basic_publish per message with mandatory=True and the same AMQP
properties dc sets (persistent, content_type, message_id, timestamp). With
confirms on, BlockingChannel.basic_publish returns once the broker confirmed
the message and raises UnroutableError / NackError otherwise: that is pika's
documented way to publish reliably, so this is what a competent Python
developer writes. The messages are the same bodies dc-bench publishes (read
from the file `dc-bench bodies` wrote); building them is not timed.

Prints one JSON object: {"count", "seconds", "per_s"}.
"""
import argparse
import json
import sys
import time

import pika


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--exchange", default="dc_commands")
    parser.add_argument("--queue", required=True, help="routing key (a manager queue)")
    parser.add_argument("--bodies", required=True)
    args = parser.parse_args()

    with open(args.bodies, encoding="utf-8") as f:
        messages = [json.loads(line) for line in f if line.strip()]

    connection = pika.BlockingConnection(pika.ConnectionParameters(host=args.host, port=args.port))
    channel = connection.channel()
    channel.confirm_delivery()

    start = time.perf_counter()
    for m in messages:
        properties = pika.BasicProperties(
            content_type="application/json",
            delivery_mode=2,
            message_id=m["id"],
            timestamp=int(time.time()),
        )
        try:
            channel.basic_publish(args.exchange, args.queue, m["body"].encode("utf-8"), properties, mandatory=True)
        except (pika.exceptions.UnroutableError, pika.exceptions.NackError) as e:
            print(f"pika_publish: message {m['id']} not confirmed: {e}", file=sys.stderr)
            return 1
    elapsed = time.perf_counter() - start
    connection.close()
    print(json.dumps({"count": len(messages), "seconds": elapsed, "per_s": len(messages) / elapsed}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
