#!/usr/bin/python3
"""An outside command source for the end-to-end tests: publishes a message
body the way a Python client of the design note would, with pika.

  pika_publish.py [--timestamp=SECONDS] HOST PORT EXCHANGE ROUTING_KEY BODY_FILE [MESSAGE_ID]

Publishes the bytes of BODY_FILE unchanged, persistent, content_type
application/json, with the current timestamp, mandatory, with publisher
confirms; MESSAGE_ID only when given (without it the manager derives the
command id from the body). --timestamp sets the AMQP timestamp property
(an unsigned 64-bit count of seconds, so hostile values can be sent). Exit 0 once the broker confirmed, 1 when it
returned or refused the message, 2 on usage errors.
"""
import sys
import time

import pika


def main(argv):
    timestamp = int(time.time())
    options = [a for a in argv[1:] if a.startswith("--")]
    argv = [argv[0]] + [a for a in argv[1:] if not a.startswith("--")]
    for option in options:
        if option.startswith("--timestamp="):
            timestamp = int(option[len("--timestamp="):])
        else:
            print(__doc__, file=sys.stderr)
            return 2
    if len(argv) not in (6, 7):
        print(__doc__, file=sys.stderr)
        return 2
    host, port, exchange, routing_key, body_file = argv[1:6]
    message_id = argv[6] if len(argv) == 7 else None
    with open(body_file, "rb") as f:
        body = f.read()
    params = pika.ConnectionParameters(host=host, port=int(port), heartbeat=10,
                                       blocked_connection_timeout=10, socket_timeout=5,
                                       connection_attempts=1)
    conn = pika.BlockingConnection(params)
    try:
        channel = conn.channel()
        channel.confirm_delivery()
        props = pika.BasicProperties(content_type="application/json", delivery_mode=2,
                                     message_id=message_id, timestamp=timestamp)
        try:
            channel.basic_publish(exchange=exchange, routing_key=routing_key, body=body,
                                  properties=props, mandatory=True)
        except (pika.exceptions.UnroutableError, pika.exceptions.NackError) as e:
            print("not delivered: %r" % (e,), file=sys.stderr)
            return 1
    finally:
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
