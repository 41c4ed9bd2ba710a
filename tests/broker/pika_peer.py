#!/usr/bin/python3
"""Interop peer for tests/broker/interop_test.cc: a second, independent AMQP
client (pika, as the design note uses) on the other end of our C++ code.

  pika_peer.py publish HOST PORT EXCHANGE ROUTING_KEY MESSAGE_ID BODY
      Publishes BODY persistent, content_type application/json, with
      MESSAGE_ID and the current timestamp, mandatory, with publisher
      confirms. Exit 0 once confirmed.
  pika_peer.py get HOST PORT QUEUE TIMEOUT_SECONDS
      Waits for one message, acks it, prints one JSON object with body and
      properties. Exit 1 when nothing arrived in time.
"""
import json
import sys
import time

import pika


def connect(host, port):
    params = pika.ConnectionParameters(host=host, port=int(port), heartbeat=10,
                                       blocked_connection_timeout=10,
                                       socket_timeout=5, connection_attempts=1)
    return pika.BlockingConnection(params)


def publish(host, port, exchange, routing_key, message_id, body):
    conn = connect(host, port)
    channel = conn.channel()
    channel.confirm_delivery()
    props = pika.BasicProperties(content_type="application/json", delivery_mode=2,
                                 message_id=message_id, timestamp=int(time.time()))
    channel.basic_publish(exchange=exchange, routing_key=routing_key, body=body.encode("utf-8"),
                          properties=props, mandatory=True)
    conn.close()


def get(host, port, queue, timeout):
    conn = connect(host, port)
    channel = conn.channel()
    deadline = time.monotonic() + float(timeout)
    while time.monotonic() < deadline:
        method, props, body = channel.basic_get(queue=queue, auto_ack=False)
        if method is None:
            time.sleep(0.05)
            continue
        channel.basic_ack(method.delivery_tag)
        print(json.dumps({
            "body": body.decode("utf-8"),
            "content_type": props.content_type,
            "delivery_mode": props.delivery_mode,
            "message_id": props.message_id,
            "timestamp": props.timestamp,
            "headers": props.headers or {},
            "routing_key": method.routing_key,
            "exchange": method.exchange,
        }))
        conn.close()
        return 0
    conn.close()
    print("no message in %s within %ss" % (queue, timeout), file=sys.stderr)
    return 1


def main(argv):
    if len(argv) >= 2 and argv[1] == "publish" and len(argv) == 8:
        publish(*argv[2:])
        return 0
    if len(argv) >= 2 and argv[1] == "get" and len(argv) == 6:
        return get(*argv[2:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
